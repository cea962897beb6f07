"""Named entities: which model reads an article (``models``) and how its
findings are normalised (``normalise``, word lists as data files)."""
