"""Test harness only: lets timm import where torchvision's wheel cannot load.

PyPI's torchvision wheels are built against CUDA torch; beside a CPU-only torch their C extension
fails ("operator torchvision::nms does not exist") and `import timm` fails with it, although a
VisionTransformer uses nothing of torchvision. `install()` keeps a working torchvision and otherwise
answers `import torchvision...` with placeholder modules, so the loader test can run timm's ViT.
"""
import importlib.abc
import importlib.machinery
import sys
import types


class _Meta(type):
    def __getattr__(cls, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return name


class _Any(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return _Meta(name, (), {'__init__': lambda self, *a, **k: None})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname == 'torchvision' or fullname.startswith('torchvision.'):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _Any(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def install():
    try:
        import torchvision  # noqa: F401
    except Exception:
        for k in [k for k in sys.modules if k.startswith('torchvision')]:
            del sys.modules[k]
        sys.meta_path.insert(0, _Finder())
