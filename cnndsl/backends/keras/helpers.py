"""Helper code generated Keras files carry when Keras has no layer with the language's
meaning: the tanh form of gelu, pooling over explicit padding, batchnorm's training rule.

Each helper is registered with Keras' serialisation (package ``cnndsl``), so that a saved
``.keras`` model reloads with ``keras.saving.load_model(path)`` and no ``custom_objects``
once the generated module has been imported.
"""

GELU_TANH = '''\
@keras.saving.register_keras_serializable(package="cnndsl")
def gelu_tanh(x):
    """gelu, tanh approximation (the language's `gelu approximate=true`)."""
    return keras.activations.gelu(x, approximate=True)'''

PADDED_POOLING = '''\
@keras.saving.register_keras_serializable(package="cnndsl")
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


BATCH_NORM = '''\
@keras.saving.register_keras_serializable(package="cnndsl")
class BatchNorm(layers.BatchNormalization):
    """Keras' BatchNormalization, but in training the moving variance takes the unbiased
    batch variance (the language's rule, PyTorch's). Same weights; inference is Keras'."""

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        if training and self.trainable:
            # super() moved it toward the biased variance: add var / (n - 1) to that
            x = keras.ops.cast(inputs, self.moving_variance.dtype)
            _, var = keras.ops.moments(x, axes=list(range(len(x.shape) - 1)))
            n = keras.ops.cast(keras.ops.size(x) // keras.ops.shape(x)[-1], var.dtype)
            excess = var / keras.ops.maximum(n - 1.0, 1.0)
            self.moving_variance.assign_add(excess * (1.0 - self.momentum))
        return outputs'''
