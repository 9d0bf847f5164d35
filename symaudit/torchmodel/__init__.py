"""TorchScript and lite models: read without torch, checked against the packaged libtorch."""
