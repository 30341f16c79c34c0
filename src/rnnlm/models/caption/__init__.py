"""Image captioning (Show, Attend and Tell): encoder.py turns images into a feature grid
(efficientnet.py holds the pretrained network), model.py decodes captions from it."""
