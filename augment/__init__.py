"""Algorithm 1 of TinyBERT: word-level data augmentation with a masked LM and GloVe."""
