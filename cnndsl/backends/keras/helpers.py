"""Helper code generated Keras files carry when Keras has no layer with the language's
meaning: the tanh form of gelu, pooling over explicit padding."""

GELU_TANH = '''\
def gelu_tanh(x):
    """gelu, tanh approximation (the language's `gelu approximate=true`)."""
    return keras.activations.gelu(x, approximate=True)'''

PADDED_POOLING = '''\
class PaddedPooling(layers.Layer):
    """Pooling over explicit padding: max pads with -inf, avg counts real elements only."""

    def __init__(self, op, pool_size, strides, padding, **kwargs):
        super().__init__(**kwargs)
        self.op = op
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides)
        self.padding = tuple(tuple(p) for p in padding)

    def call(self, x):
        pads = [(0, 0), *self.padding, (0, 0)]
        if self.op == "max":
            x = keras.ops.pad(x, pads, constant_values=float("-inf"))
            return keras.ops.max_pool(x, self.pool_size, self.strides, padding="valid")
        total = keras.ops.pad(x, pads)
        count = keras.ops.pad(keras.ops.ones_like(x[..., :1]), pads)
        total = keras.ops.average_pool(
            total, self.pool_size, self.strides, padding="valid"
        )
        count = keras.ops.average_pool(
            count, self.pool_size, self.strides, padding="valid"
        )
        return total / count

    def get_config(self):
        return {
            **super().get_config(),
            "op": self.op,
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }'''
