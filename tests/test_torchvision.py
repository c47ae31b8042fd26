"""Outside oracle: torchvision's own models. The zoo's files name their layers as
torchvision does, so the generated PyTorch module loads torchvision's state_dict with
``strict=True`` and computes torchvision's outputs; ``cnndsl import-weights`` of that
state_dict then runs on the NumPy interpreter to the same outputs.

Nothing is downloaded: torchvision's randomly initialised models, with every
batchnorm's statistics, scale and offset made random too (an identity batchnorm would
hide a swapped mean and variance).
"""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest

import cnndsl
from cnndsl.backends.numpy import forward
from cnndsl.cli import main
from cnndsl.frameworks import load_generated, module_class
from cnndsl.weights import check_weights
from conftest import EXAMPLES

torch = pytest.importorskip("torch")


def torchvision_models() -> types.ModuleType:
    """``torchvision.models`` without ``torchvision/__init__``.

    The registries here serve torchvision's CUDA wheel only; with the CPU torch its C
    extension does not load and ``import torchvision`` fails ("operator torchvision::nms
    does not exist"). The model definitions are pure Python: register a bare package
    whose ``__path__`` is the installed folder, then import ``torchvision.models``.
    """
    if "torchvision.models" in sys.modules:
        return sys.modules["torchvision.models"]
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.submodule_search_locations is None:
        pytest.skip("torchvision is not installed")
    package = types.ModuleType("torchvision")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = package
    import torchvision.models

    return torchvision.models


# example -> (torchvision builder, its keyword arguments, softmax on torchvision's output)
MODELS = {
    "resnet18": ("resnet18", {}, False),
    "resnet50": ("resnet50", {}, False),
    "vgg16": ("vgg16", {}, True),
    "alexnet": ("alexnet", {}, False),
    "mobilenetv2": ("mobilenet_v2", {}, False),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": True}, False),
    "densenet121": ("densenet121", {}, False),
}


def reference(name: str):
    builder, kwargs, _ = MODELS[name]
    torch.manual_seed(0)
    net = getattr(torchvision_models(), builder)(**kwargs).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
    return net


def expected(name: str, net, x):
    with torch.no_grad():
        y = net(x)
    return torch.softmax(y, dim=1) if MODELS[name][2] else y


@pytest.fixture(scope="module")
def image():
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))


def close(a: np.ndarray, b: np.ndarray) -> None:
    scale = float(np.abs(b).max())
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", list(MODELS))
def test_generated_module_loads_torchvision_state_dict(name: str, image, tmp_path) -> None:
    ref = reference(name)
    model = cnndsl.load(EXAMPLES / f"{name}.cnn")
    net = module_class(load_generated(model, "pytorch"))().eval()
    net.load_state_dict(ref.state_dict(), strict=True)
    want = expected(name, ref, image).numpy()
    with torch.no_grad():
        close(net(image).numpy(), want)

    # torchvision's state_dict through import-weights, then the NumPy interpreter
    pt, npz = tmp_path / f"{name}.pt", tmp_path / f"{name}.npz"
    torch.save(ref.state_dict(), pt)
    args = ["import-weights", str(pt), "-m", str(EXAMPLES / f"{name}.cnn")]
    assert main([*args, "--source", "pytorch", "-o", str(npz), "--max-memory", "4G"]) == 0
    with np.load(npz) as f:
        weights = check_weights(model, dict(f), str(npz))
    got = forward(model, weights, image.permute(0, 2, 3, 1).numpy())
    close(got, want)


def test_a_renamed_layer_breaks_the_strict_load() -> None:
    """The test above can fail: torchvision's keys are checked, not merely loaded."""
    source = (EXAMPLES / "resnet18.cnn").read_text().replace("name=fc", "name=head")
    model = cnndsl.parse(source, "resnet18.cnn")
    net = module_class(load_generated(model, "pytorch"))().eval()
    with pytest.raises(RuntimeError, match=r"fc\.weight"):
        net.load_state_dict(reference("resnet18").state_dict(), strict=True)
