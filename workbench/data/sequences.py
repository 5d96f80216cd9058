"""Token sequences for language models: a text reader, a vocabulary and the PTB batch producer.

* :func:`read_text` turns a UTF-8 text file into token ids with a :class:`Vocabulary` of
  characters (``level="char"``) or of words (``level="word"``: whitespace-separated, every
  newline a ``<eos>`` token, words seen fewer than ``min_count`` times mapped to ``<unk>``);
* :func:`split_ids` cuts the ids into a training part and a validation part (the last
  fraction, contiguous);
* :func:`ptb_producer` cuts the ids into ``batch_size`` rows and walks them in windows of
  ``num_steps`` tokens, as TensorFlow's PTB tutorial reader (``reader.ptb_producer``);
* :func:`corpus_path` finds a text shipped with the package (``alice.txt``: Lewis Carroll's
  *Alice's Adventures in Wonderland*, public domain; see ``texts/SOURCE.md``).

Problems with files raise :class:`~workbench.data.labeled.DataError` naming the file and
what is wrong; bad arguments raise ``ValueError``.
"""

from __future__ import annotations

import json
import operator
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from .labeled import DataError

__all__ = [
    "EOS",
    "UNK",
    "UNK_CHAR",
    "PTBProducer",
    "Vocabulary",
    "corpora",
    "corpus_path",
    "ptb_producer",
    "read_text",
    "split_ids",
]

EOS = "<eos>"
"""The word-level token that stands for a newline."""
UNK = "<unk>"
"""The word-level token that stands for a word below ``min_count`` or not in the vocabulary."""
UNK_CHAR = "\ufffd"
"""The character-level stand-in for rare or unknown characters (U+FFFD), used only when
``min_count > 1`` puts some characters below the cut-off."""

LEVELS = ("char", "word")
_FORMAT = "workbench.vocabulary"
_VERSION = 1


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v}")
    return int(v)


def _level(level) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be 'char' or 'word', got {level!r}")
    return level


# ------------------------------------------------------------------------------ vocabulary


def _words(text: str) -> list[str]:
    """Whitespace-separated words, every newline a ``<eos>`` token (blank lines included)."""
    return text.replace("\n", f" {EOS} ").split()


class Vocabulary:
    """Symbols (characters or words) and their ids ``0 .. len - 1``.

    Order (deterministic): by count in the text it was built from, most frequent first, ties
    by symbol (Python's string order, i.e. by code point). The unknown symbol ``unk`` (word
    level: always ``<unk>``; character level: ``U+FFFD`` when ``min_count > 1`` left some
    characters out, else none) is ranked by the count of everything it stands for; an
    ``<unk>`` that stands for nothing has count 0 and comes last. ``<eos>`` is never cut off.

    ``encode(text)`` maps symbols not in the vocabulary to ``unk``, or raises ``ValueError``
    naming them when there is no ``unk``. ``decode(ids)`` inverts it: characters are
    concatenated; words are joined by single spaces, with ``<eos>`` written as a newline, so
    a word-level round trip gives the text with its whitespace normalised."""

    def __init__(self, symbols, level: str = "char", unk: str | None = None):
        self.level = _level(level)
        symbols = tuple(symbols)
        if not symbols:
            raise ValueError("a vocabulary needs at least one symbol")
        for s in symbols:
            if not isinstance(s, str) or not s:
                raise ValueError(f"symbols must be non-empty strings, got {s!r}")
            if self.level == "char" and len(s) != 1:
                raise ValueError(f"a character vocabulary holds single characters, got {s!r}")
            if self.level == "word" and s.split() != [s]:
                raise ValueError(f"a word vocabulary holds words without whitespace, got {s!r}")
        index = {s: i for i, s in enumerate(symbols)}
        if len(index) != len(symbols):
            dup = next(s for s in symbols if symbols.count(s) > 1)
            raise ValueError(f"symbol {dup!r} appears more than once")
        if unk is not None and unk not in index:
            raise ValueError(f"the unknown symbol {unk!r} is not among the symbols")
        self.symbols = symbols
        self.unk = unk
        self._index = index
        if self.level == "char":
            codes = np.array([ord(s) for s in symbols], dtype=np.int64)
            self._order = np.argsort(codes, kind="stable")
            self._codes = codes[self._order]

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, text: str, level: str = "char", min_count: int = 1) -> Vocabulary:
        """The vocabulary of ``text``: symbols seen at least ``min_count`` times, the rest
        folded into the unknown symbol (see the class docstring for the order)."""
        level = _level(level)
        min_count = _positive_int("min_count", min_count)
        counts = Counter(text if level == "char" else _words(text))
        if not counts:
            raise ValueError("the text has no symbols to build a vocabulary from")
        unk = UNK if level == "word" else (UNK_CHAR if min_count > 1 else None)
        kept: Counter = Counter()
        folded = 0
        for s, n in counts.items():
            if n >= min_count or s == unk or (level == "word" and s == EOS):
                kept[s] += n
            else:
                folded += n
        if unk is not None:
            kept[unk] += folded
        if level == "char" and unk is not None and kept[unk] == 0:
            del kept[unk]  # nothing fell below the cut-off: no stand-in needed
            unk = None
        symbols = sorted(kept, key=lambda s: (-kept[s], s))
        return cls(symbols, level, unk)

    # ------------------------------------------------------------------ mapping
    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def size(self) -> int:
        """The number of symbols (ids run from 0 to ``size - 1``); the same as ``len(vocab)``."""
        return len(self.symbols)

    def __contains__(self, symbol) -> bool:
        return symbol in self._index

    def index(self, symbol: str) -> int:
        """The id of ``symbol`` (``KeyError`` if it is not in the vocabulary)."""
        return self._index[symbol]

    @property
    def unk_id(self) -> int | None:
        """The id of the unknown symbol ``unk``, or None when the vocabulary has none."""
        return None if self.unk is None else self._index[self.unk]

    def tokens(self, text: str) -> list[str]:
        """``text`` cut into this vocabulary's kind of symbols (before any mapping)."""
        return list(text) if self.level == "char" else _words(text)

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64) of ``text``."""
        if self.level == "char":
            return self._encode_chars(text)
        index = self._index
        ids = np.fromiter((index.get(w, -1) for w in _words(text)), dtype=np.int64)
        return self._fill_unknown(ids, lambda: [w for w in _words(text) if w not in index])

    def _encode_chars(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self._codes, codes)
        pos = np.minimum(pos, len(self._codes) - 1)
        found = self._codes[pos] == codes
        ids = np.where(found, self._order[pos], -1).astype(np.int64)
        return self._fill_unknown(ids, lambda: [chr(c) for c in codes[~found]])

    def _fill_unknown(self, ids: np.ndarray, unknown) -> np.ndarray:
        missing = ids < 0
        if missing.any():
            if self.unk is None:
                names = sorted(set(unknown()))
                shown = ", ".join(repr(s) for s in names[:10])
                more = f" and {len(names) - 10} more" if len(names) > 10 else ""
                raise ValueError(
                    f"{int(missing.sum())} symbol(s) not in the vocabulary and no unknown "
                    f"symbol to map them to: {shown}{more}"
                )
            ids[missing] = self.unk_id
        return ids

    def decode(self, ids) -> str:
        """The text of token ids (see the class docstring)."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"ids must be a 1-D array of integers, got {ids.dtype} {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.symbols)):
            raise ValueError(f"ids must be in 0..{len(self.symbols) - 1}")
        symbols = [self.symbols[i] for i in ids.tolist()]
        if self.level == "char":
            return "".join(symbols)
        lines, line = [], []
        for s in symbols:
            if s == EOS:
                lines.append(" ".join(line))
                line = []
            else:
                line.append(s)
        lines.append(" ".join(line))
        return "\n".join(lines)

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict:
        """The vocabulary as a plain dict that :meth:`from_dict` reads back.

        Returns
        -------
        dict
            ``format`` and ``version`` (the saved form's tags), ``level``, ``unk`` and
            ``symbols`` (a list, in id order).
        """
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "level": self.level,
            "unk": self.unk,
            "symbols": list(self.symbols),
        }

    def to_json(self) -> str:
        """A JSON string that :meth:`from_json` reads back (symbols in id order)."""
        return json.dumps(self.to_dict(), ensure_ascii=True)

    @classmethod
    def from_dict(cls, d) -> Vocabulary:
        """The vocabulary a :meth:`to_dict` dict describes.

        Parameters
        ----------
        d : dict
            As :meth:`to_dict` writes it.

        Returns
        -------
        Vocabulary
            The same symbols, ids, level and unknown symbol.

        Raises
        ------
        ValueError
            For a dict that is not a saved vocabulary, of another version, or with bad symbols.
        """
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"not a saved vocabulary (no 'format': {_FORMAT!r})")
        if d.get("version") != _VERSION:
            raise ValueError(f"vocabulary version {d.get('version')!r}; this reads {_VERSION}")
        try:
            return cls(d["symbols"], d["level"], d.get("unk"))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a saved vocabulary: missing or bad {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        """The vocabulary a :meth:`to_json` string describes.

        Parameters
        ----------
        text : str
            The JSON text.

        Returns
        -------
        Vocabulary
            The saved vocabulary.

        Raises
        ------
        ValueError
            For text that is not JSON or not a saved vocabulary.
        """
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a saved vocabulary: {exc}") from None
        return cls.from_dict(d)

    def save(self, path) -> None:
        """Write :meth:`to_json` to ``path`` (UTF-8)."""
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path) -> Vocabulary:
        """Read a vocabulary written by :meth:`save` (a run's ``vocab.json``).

        Parameters
        ----------
        path : str or Path
            The file.

        Returns
        -------
        Vocabulary
            The saved vocabulary.

        Raises
        ------
        DataError
            For a missing file, or one that is not a saved vocabulary (the message names the file).
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}: {exc}") from None

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (self.level, self.unk, self.symbols) == (other.level, other.unk, other.symbols)

    def __hash__(self) -> int:
        return hash((self.level, self.unk, self.symbols))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} {self.level}s, unk={self.unk!r})"


# ----------------------------------------------------------------------------- reading


def read_text(
    path, level: str = "char", min_count: int = 1, vocab: Vocabulary | None = None
) -> tuple[np.ndarray, Vocabulary]:
    """Read a UTF-8 text file as token ids.

    Line ends are read as ``\\n`` (``\\r\\n`` and ``\\r`` too) and a leading byte-order mark
    is dropped.

    Parameters
    ----------
    path : str or Path
        The text file.
    level : {"char", "word"}, optional
        Characters (default) or words (whitespace-separated, every newline an ``<eos>``
        token). Ignored when ``vocab`` is given.
    min_count : int, optional
        Symbols seen fewer times are mapped to the unknown symbol (default 1). Ignored when
        ``vocab`` is given.
    vocab : Vocabulary, optional
        Encode with this vocabulary (e.g. the training run's) instead of building one from the
        text (:meth:`Vocabulary.build`).

    Returns
    -------
    ids : ndarray of int64, shape (T,)
        The token ids, T >= 1.
    vocab : Vocabulary
        The vocabulary used.

    Raises
    ------
    DataError
        For a missing, unreadable, non-UTF-8 or empty file, or symbols ``vocab`` cannot encode
        (it has no unknown symbol).
    ValueError
        For a bad ``level`` or ``min_count``.
    TypeError
        If ``vocab`` is not a Vocabulary.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if vocab is None:
        level = _level(level)
        if not (text if level == "char" else _words(text)):
            raise DataError(f"{path}: the file is empty (no {level}s)")
        vocab = Vocabulary.build(text, level, min_count)
    elif not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
    try:
        ids = vocab.encode(text) if text else np.zeros(0, dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    if ids.size == 0:
        raise DataError(f"{path}: the file is empty (no {vocab.level}s)")
    return ids, vocab


def split_ids(ids, valid_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split token ids into a training part and a validation part.

    Parameters
    ----------
    ids : array_like, shape (T,)
        Token ids.
    valid_fraction : float
        In [0, 1): the last ``round(valid_fraction * T)`` ids are the validation part.

    Returns
    -------
    train : ndarray, shape (T - n_valid,)
        The ids before the validation part (a view); never empty.
    valid : ndarray, shape (n_valid,)
        The last ids (a view).

    Raises
    ------
    ValueError
        For ids that are not 1-D, ``valid_fraction`` outside [0, 1), or no training ids left.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {ids.shape}")
    f = float(valid_fraction)
    if not 0.0 <= f < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction!r}")
    n = len(ids)
    n_valid = int(round(f * n))
    if n - n_valid < 1:
        raise ValueError(f"no training ids left: {n} ids, valid_fraction {f}")
    return ids[: n - n_valid], ids[n - n_valid :]


# ------------------------------------------------------------------------- shipped texts


def corpora() -> list[str]:
    """The names of the texts shipped with the package.

    Returns
    -------
    list of str
        File names in ``texts/`` ending in ``.txt``, sorted.
    """
    folder = resources.files(__package__).joinpath("texts")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".txt"))


def corpus_path(name: str = "alice") -> Path:
    """The path of a text shipped with the package.

    Parameters
    ----------
    name : str, optional
        The text's name, with or without ``.txt`` (default ``"alice"``).

    Returns
    -------
    Path
        The file's path.

    Raises
    ------
    DataError
        If no shipped text has that name (the message lists the available ones).
    """
    file = name if name.endswith(".txt") else f"{name}.txt"
    entry = resources.files(__package__).joinpath("texts", file)
    if "/" in file or "\\" in file or not entry.is_file():
        raise DataError(f"no shipped text {name!r}; available: {', '.join(corpora())}")
    return Path(str(entry))


# ------------------------------------------------------------------------- PTB producer


class PTBProducer:
    """The windows of TensorFlow's PTB reader over ``data`` (see :func:`ptb_producer`).

    ``producer[i]`` is window ``i`` as ``(x, y)``, both (batch_size, num_steps) read-only views
    of ``rows``; negative ``i`` counts from the end; iteration yields the windows in order and
    ``len(producer)`` is ``epoch_size``.

    Parameters
    ----------
    data : array_like of int, shape (T,)
        Token ids.
    batch_size, num_steps : int
        Positive integers.

    Attributes
    ----------
    rows : ndarray, shape (batch_size, batch_len)
        A read-only view of ``data``.
    batch_size, num_steps : int
        The arguments.
    batch_len : int
        ``T // batch_size``.
    epoch_size : int
        The number of windows, ``(batch_len - 1) // num_steps``.
    """

    def __init__(self, data, batch_size, num_steps):
        batch_size = _positive_int("batch_size", batch_size)
        num_steps = _positive_int("num_steps", num_steps)
        data = np.asarray(data)
        if data.ndim != 1:
            raise ValueError(f"data must be a 1-D array of token ids, got shape {data.shape}")
        if data.size and not np.issubdtype(data.dtype, np.integer):
            raise ValueError(f"data must hold integer token ids, got dtype {data.dtype}")
        n = len(data)
        batch_len = n // batch_size
        epoch_size = (batch_len - 1) // num_steps if batch_len > 0 else 0
        if epoch_size <= 0:
            raise ValueError(
                f"epoch_size == 0: {n} tokens in batch_size {batch_size} rows give rows of "
                f"{batch_len} tokens, fewer than num_steps + 1 = {num_steps + 1}; decrease "
                "batch_size or num_steps"
            )
        rows = data[: batch_size * batch_len].reshape(batch_size, batch_len)
        rows.flags.writeable = False  # the view only: the caller's array is unaffected
        self.rows = rows
        self.batch_size = batch_size
        self.num_steps = num_steps
        self.batch_len = batch_len
        self.epoch_size = epoch_size

    def __len__(self) -> int:
        return self.epoch_size

    def __getitem__(self, i) -> tuple[np.ndarray, np.ndarray]:
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"window index must be an integer, got {type(i).__name__}") from None
        if i < 0:
            i += self.epoch_size
        if not 0 <= i < self.epoch_size:
            raise IndexError(f"window index out of range (epoch_size {self.epoch_size})")
        start = i * self.num_steps
        x = self.rows[:, start : start + self.num_steps]
        y = self.rows[:, start + 1 : start + self.num_steps + 1]
        return x, y

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(self.epoch_size):
            yield self[i]

    def __repr__(self) -> str:
        return (
            f"ptb_producer(batch_size={self.batch_size}, num_steps={self.num_steps}: "
            f"batch_len {self.batch_len}, epoch_size {self.epoch_size})"
        )


def ptb_producer(data, batch_size: int, num_steps: int) -> PTBProducer:
    """TensorFlow's PTB batch producer over the token ids ``data``.

    The ids are cut into ``batch_size`` rows of ``batch_len = len(data) // batch_size``
    consecutive tokens (row-major; the ``len(data) % batch_size`` tokens at the end are
    dropped). Window ``i`` (``0 <= i < epoch_size = (batch_len - 1) // num_steps``) is
    ``x = rows[:, i*num_steps:(i+1)*num_steps]`` and ``y`` the same window one token to the
    right, so ``y[:, t]`` is the token after ``x[:, t]``, and row ``b`` of window ``i + 1``
    continues row ``b`` of window ``i`` (carry the model's state across windows).

    Parameters
    ----------
    data : array_like of int, shape (T,)
        Token ids (e.g. from :func:`read_text`).
    batch_size : int
        Number of rows, a positive integer.
    num_steps : int
        Window length in tokens, a positive integer.

    Returns
    -------
    PTBProducer
        A sequence of ``epoch_size`` windows: ``producer[i]`` is ``(x, y)``, both ndarrays of
        shape (batch_size, num_steps), read-only views of ``data`` (which should not change
        while they are in use); it also has the attributes ``rows`` (batch_size, batch_len),
        ``batch_len`` and ``epoch_size``.

    Raises
    ------
    ValueError
        For data that is not 1-D integer ids, ``batch_size`` or ``num_steps`` that are not
        positive integers, and when ``epoch_size`` would be 0
        (``len(data) // batch_size < num_steps + 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from workbench.data import ptb_producer
    >>> producer = ptb_producer(np.arange(20), batch_size=2, num_steps=3)
    >>> len(producer)
    3
    >>> x, y = producer[0]
    >>> x
    array([[ 0,  1,  2],
           [10, 11, 12]])
    >>> y
    array([[ 1,  2,  3],
           [11, 12, 13]])
    """
    return PTBProducer(data, batch_size, num_steps)
