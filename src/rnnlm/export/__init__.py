"""Models exported for runtimes without PyTorch: ONNX files and the sidecar that reads them."""
