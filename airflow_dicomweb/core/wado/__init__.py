"""WADO-RS, the retrieve transactions (PS3.18 section 10.4): instances into a destination, metadata,
rendered images and frames, bulk data, and the decoding of their responses."""
