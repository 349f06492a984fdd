"""Training small bi-modal models with the CLIP, CyCLIP and CLOOB objectives.

- :mod:`.objectives`: the three losses, exactly as in FORMATS.md "Training objectives".
- :mod:`.vocab`: the word vocabulary and tokenizer of the text encoder.
- :mod:`.encoders`: a small CNN for images, a small transformer for captions, both into one space.
- :mod:`.checkpoint`: the model directory format (safetensors weights + JSON config).
- :mod:`.loop`: the training loop (tqdm progress, a loss log).

No Panel/HoloViews here; torch is imported by these modules, so import them lazily from code that
must start without torch.
"""
