"""Token sequences: the PTB batch producer against TensorFlow's reader, the vocabulary, the text
reader and the shipped corpus."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.data import ptb_producer as exported_producer
from workbench.data.labeled import DataError
from workbench.data.sequences import (
    EOS,
    UNK,
    UNK_CHAR,
    PTBProducer,
    Vocabulary,
    corpora,
    corpus_path,
    ptb_producer,
    read_text,
    split_ids,
)

# ------------------------------------------------------------------------------ producer


def test_reader_test_vector():
    """The test of TensorFlow's ``reader_test.testPtbProducer``."""
    raw = np.array([4, 3, 2, 1, 0, 5, 6, 1, 1, 1, 1, 0, 3, 4, 1])
    producer = ptb_producer(raw, 3, 2)
    assert producer.batch_len == 5
    assert producer.epoch_size == len(producer) == 2
    x, y = producer[0]
    np.testing.assert_array_equal(x, [[4, 3], [5, 6], [1, 0]])
    np.testing.assert_array_equal(y, [[3, 2], [6, 1], [0, 3]])
    x, y = producer[1]
    np.testing.assert_array_equal(x, [[2, 1], [1, 1], [3, 4]])
    np.testing.assert_array_equal(y, [[1, 0], [1, 1], [4, 1]])


def test_exported_from_the_data_package():
    assert exported_producer is ptb_producer


def reader_window(raw, batch_size, num_steps, i):
    """The reader restated element by element: row b holds raw[b*batch_len:(b+1)*batch_len]."""
    batch_len = len(raw) // batch_size
    x = np.empty((batch_size, num_steps), dtype=raw.dtype)
    y = np.empty((batch_size, num_steps), dtype=raw.dtype)
    for b in range(batch_size):
        for t in range(num_steps):
            x[b, t] = raw[b * batch_len + i * num_steps + t]
            y[b, t] = raw[b * batch_len + i * num_steps + t + 1]
    return x, y


@settings(max_examples=200, deadline=None)
@given(
    length=st.integers(0, 300),
    batch_size=st.integers(1, 20),
    num_steps=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_the_reader_on_random_data(length, batch_size, num_steps, seed):
    raw = np.random.default_rng(seed).integers(0, 1000, length)
    batch_len = length // batch_size
    epoch_size = (batch_len - 1) // num_steps
    if epoch_size <= 0:
        with pytest.raises(ValueError, match="decrease batch_size or num_steps"):
            ptb_producer(raw, batch_size, num_steps)
        return
    producer = ptb_producer(raw, batch_size, num_steps)
    assert (producer.batch_len, producer.epoch_size, len(producer)) == (
        batch_len,
        epoch_size,
        epoch_size,
    )
    windows = list(producer)
    assert len(windows) == epoch_size
    for i, (x, y) in enumerate(windows):
        want_x, want_y = reader_window(raw, batch_size, num_steps, i)
        np.testing.assert_array_equal(x, want_x)
        np.testing.assert_array_equal(y, want_y)
        gx, gy = producer[i - epoch_size]  # negative indices as a sequence
        np.testing.assert_array_equal(gx, want_x)
        np.testing.assert_array_equal(gy, want_y)


def test_epoch_size_zero_message_has_the_numbers():
    with pytest.raises(ValueError) as info:
        ptb_producer(np.arange(10), 5, 2)  # batch_len 2: needs 3
    msg = str(info.value)
    assert "epoch_size == 0" in msg and "decrease batch_size or num_steps" in msg
    for number in ("10", "5", "2", "3"):
        assert number in msg
    with pytest.raises(ValueError, match="decrease"):
        ptb_producer(np.arange(3), 5, 1)  # batch_len 0
    ptb_producer(np.arange(15), 5, 2)  # batch_len 3: one window


def test_windows_are_read_only_views():
    raw = np.arange(1000, dtype=np.int32)
    producer = ptb_producer(raw, 4, 7)
    assert np.shares_memory(producer.rows, raw)
    for x, y in producer:
        assert np.shares_memory(x, producer.rows) and np.shares_memory(y, producer.rows)
        assert x.dtype == np.int32
        assert not x.flags.writeable and not y.flags.writeable
        with pytest.raises(ValueError):
            x[0, 0] = 1
    assert raw.flags.writeable  # the caller's array is untouched
    raw[0] = 7
    assert producer[0][0][0, 0] == 7


def test_indexing():
    producer = ptb_producer(np.arange(100), 3, 4)  # batch_len 33: epoch_size 8
    assert len(producer) == 8
    x_last, _ = producer[-1]
    np.testing.assert_array_equal(x_last, producer[7][0])
    np.testing.assert_array_equal(producer[np.int64(2)][0], producer[2][0])
    for bad in (8, -9, 100):
        with pytest.raises(IndexError):
            producer[bad]
    with pytest.raises(TypeError):
        producer[1.0]
    with pytest.raises(TypeError):
        producer[0:2]
    assert isinstance(producer, PTBProducer)
    assert "epoch_size 8" in repr(producer)
    # consecutive windows continue each row
    x0, y0 = producer[0]
    x1, _ = producer[1]
    np.testing.assert_array_equal(y0[:, -1], x1[:, 0])


@pytest.mark.parametrize(
    ("data", "batch_size", "num_steps", "match"),
    [
        (np.zeros((4, 5), dtype=int), 1, 1, "1-D"),
        (np.linspace(0, 1, 50), 2, 2, "integer"),
        (np.ones(50, dtype=bool), 2, 2, "integer"),
        (np.arange(50), 0, 2, "batch_size"),
        (np.arange(50), -1, 2, "batch_size"),
        (np.arange(50), 2.0, 2, "batch_size"),
        (np.arange(50), True, 2, "batch_size"),
        (np.arange(50), 2, 0, "num_steps"),
        (np.arange(50), 2, "3", "num_steps"),
    ],
)
def test_bad_arguments(data, batch_size, num_steps, match):
    with pytest.raises(ValueError, match=match):
        ptb_producer(data, batch_size, num_steps)


def test_lists_and_numpy_integers_are_accepted():
    producer = ptb_producer([4, 3, 2, 1, 0, 5, 6, 1, 1, 1, 1, 0, 3, 4, 1], np.int64(3), 2)
    np.testing.assert_array_equal(producer[0][0], [[4, 3], [5, 6], [1, 0]])


# ---------------------------------------------------------------------------- vocabulary


def test_char_vocabulary_order_and_round_trip():
    text = "abracadabra\nbar"
    vocab = Vocabulary.build(text)
    # counts: a 6, b 3, r 3, c 1, d 1, \n 1 -> by count, ties by code point
    assert vocab.symbols == ("a", "b", "r", "\n", "c", "d")
    assert vocab.unk is None
    ids = vocab.encode(text)
    assert ids.dtype == np.int64
    assert vocab.decode(ids) == text
    np.testing.assert_array_equal(ids[:4], [0, 1, 2, 0])
    assert len(vocab) == vocab.size == 6
    assert "a" in vocab and "z" not in vocab and vocab.index("r") == 2


def test_char_vocabulary_unicode():
    text = "naïve café — 東京\n"
    vocab = Vocabulary.build(text)
    assert vocab.decode(vocab.encode(text)) == text


def test_char_unknown_without_unk_raises():
    vocab = Vocabulary.build("aab")
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("abz")


def test_char_min_count_uses_the_replacement_character():
    vocab = Vocabulary.build("aaabbc", min_count=2)
    assert vocab.unk == UNK_CHAR
    assert vocab.symbols == ("a", "b", UNK_CHAR)  # the stand-in counts 1 (c)
    ids = vocab.encode("abcz")
    np.testing.assert_array_equal(ids, [0, 1, 2, 2])
    assert vocab.decode(ids) == "ab" + UNK_CHAR * 2
    # nothing below the cut-off: no stand-in
    assert Vocabulary.build("aabb", min_count=2).unk is None


def test_word_vocabulary_eos_and_unk():
    text = "the cat sat\non the mat\n\nthe end"
    vocab = Vocabulary.build(text, level="word")
    assert vocab.level == "word"
    # the 3, <eos> 3, then count-1 words by string order; <unk> (count 0) last
    assert vocab.symbols[:2] == ("<eos>", "the")
    assert vocab.symbols[-1] == UNK
    assert vocab.symbols[2:-1] == tuple(sorted(["cat", "sat", "on", "mat", "end"]))
    ids = vocab.encode(text)
    assert len(ids) == 3 + 1 + 3 + 1 + 1 + 2
    assert vocab.decode(ids) == text
    assert vocab.decode(vocab.encode("  the   cat \n")) == "the cat\n"
    np.testing.assert_array_equal(vocab.encode("the dog"), [vocab.index("the"), vocab.unk_id])


def test_word_min_count_cut_off():
    text = "a b a c a b\nd"
    vocab = Vocabulary.build(text, level="word", min_count=2)
    # a 3, b 2 kept; c, d (1 each) -> <unk> 2; <eos> 1 is kept whatever its count
    assert vocab.symbols == ("a", UNK, "b", EOS)
    ids = vocab.encode(text)
    assert vocab.decode(ids) == "a b a <unk> a b\n<unk>"
    assert (ids == vocab.unk_id).sum() == 2


def test_literal_unk_in_text_merges():
    vocab = Vocabulary.build("<unk> x <unk>", level="word", min_count=2)
    assert vocab.symbols == (UNK,)
    np.testing.assert_array_equal(vocab.encode("<unk> x"), [0, 0])


def test_vocabulary_order_is_deterministic():
    rng = np.random.default_rng(3)
    chars = list("abcdefgh" * 5)
    texts = []
    for _ in range(3):
        rng.shuffle(chars)
        texts.append("".join(chars))
    assert len({Vocabulary.build(t).symbols for t in texts}) == 1
    assert Vocabulary.build(texts[0]).symbols == tuple("abcdefgh")


def test_json_round_trip(tmp_path):
    for vocab in (
        Vocabulary.build("hello world\n"),
        Vocabulary.build("aaabbc", min_count=2),
        Vocabulary.build("one two two\nthree", level="word", min_count=2),
    ):
        back = Vocabulary.from_json(vocab.to_json())
        assert back == vocab and back.symbols == vocab.symbols and back.unk == vocab.unk
        path = tmp_path / "vocab.json"
        vocab.save(path)
        loaded = Vocabulary.load(path)
        assert loaded == vocab
        text = "two one" if vocab.level == "word" else "hello"
        if vocab.unk is not None or set(text) <= set(vocab.symbols):
            np.testing.assert_array_equal(loaded.encode(text), vocab.encode(text))


def test_bad_saved_vocabulary(tmp_path):
    with pytest.raises(ValueError, match="not a saved vocabulary"):
        Vocabulary.from_json("{")
    with pytest.raises(ValueError, match="not a saved vocabulary"):
        Vocabulary.from_json('{"symbols": ["a"]}')
    with pytest.raises(ValueError, match="not a saved vocabulary"):
        Vocabulary.from_json('{"format": "workbench.vocabulary", "version": 1}')
    with pytest.raises(DataError, match="no such file"):
        Vocabulary.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(DataError, match="bad.json"):
        Vocabulary.load(bad)


@pytest.mark.parametrize(
    ("symbols", "level", "unk", "match"),
    [
        ([], "char", None, "at least one"),
        (["ab"], "char", None, "single characters"),
        (["a b"], "word", None, "whitespace"),
        (["a", "a"], "char", None, "more than once"),
        (["a"], "char", "b", "not among"),
        (["a"], "byte", None, "level"),
    ],
)
def test_bad_vocabulary(symbols, level, unk, match):
    with pytest.raises(ValueError, match=match):
        Vocabulary(symbols, level, unk)


def test_decode_checks_ids():
    vocab = Vocabulary.build("abc")
    with pytest.raises(ValueError, match="0..2"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode([[0]])
    assert vocab.decode([]) == ""


# --------------------------------------------------------------------------- read_text


def test_read_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbfab\r\nba\r\n")  # BOM and CRLF
    ids, vocab = read_text(path)
    assert vocab.decode(ids) == "ab\nba\n"
    ids2, vocab2 = read_text(path, vocab=vocab)
    assert vocab2 is vocab
    np.testing.assert_array_equal(ids2, ids)
    words, wv = read_text(path, level="word")
    assert wv.decode(words) == "ab\nba\n"


def test_read_text_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_text(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="no such file"):
        read_text(tmp_path)  # a folder
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_text(empty)
    blank = tmp_path / "blank.txt"
    blank.write_text("   \t ")
    with pytest.raises(DataError, match="empty"):
        read_text(blank, level="word")
    with pytest.raises(DataError, match="empty"):
        read_text(empty, vocab=Vocabulary.build("abc"))
    binary = tmp_path / "latin1.txt"
    binary.write_bytes("café".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 .*0xe9 at offset 3"):
        read_text(binary)
    other = tmp_path / "other.txt"
    other.write_text("xyz")
    with pytest.raises(DataError, match="other.txt.*not in the vocabulary"):
        read_text(other, vocab=Vocabulary.build("abc"))
    with pytest.raises(ValueError, match="level"):
        read_text(other, level="line")
    with pytest.raises(ValueError, match="min_count"):
        read_text(other, min_count=0)


# ---------------------------------------------------------------------------- split_ids


def test_split_ids():
    ids = np.arange(100)
    train, valid = split_ids(ids, 0.1)
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(valid, np.arange(90, 100))
    assert np.shares_memory(train, ids) and np.shares_memory(valid, ids)
    train, valid = split_ids(ids, 0.0)
    assert len(train) == 100 and len(valid) == 0
    train, valid = split_ids(np.arange(7), 0.25)  # round(1.75) = 2
    assert len(train) == 5 and len(valid) == 2
    for bad in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="valid_fraction"):
            split_ids(ids, bad)
    with pytest.raises(ValueError, match="no training ids"):
        split_ids(np.arange(1), 0.9)
    with pytest.raises(ValueError, match="1-D"):
        split_ids(np.zeros((2, 2)), 0.5)


# --------------------------------------------------------------------------- the corpus


def test_shipped_corpus():
    assert "alice.txt" in corpora()
    path = corpus_path("alice")
    assert path == corpus_path("alice.txt")
    assert path.is_file()
    assert (path.parent / "SOURCE.md").is_file()
    ids, vocab = read_text(path)
    assert 100_000 < len(ids) < 300_000
    assert len(vocab) == 71
    assert vocab.symbols[0] == " "  # the most frequent character
    text = path.read_text(encoding="utf-8")
    assert text.startswith("ALICE'S ADVENTURES IN WONDERLAND")
    assert text.rstrip().endswith("THE END")
    assert "gutenberg" not in text.lower()
    train, valid = split_ids(ids, 0.1)
    producer = ptb_producer(train, 32, 35)
    assert producer.epoch_size == (len(train) // 32 - 1) // 35


def test_unknown_corpus():
    with pytest.raises(DataError, match="alice.txt"):
        corpus_path("moby-dick")
    with pytest.raises(DataError):
        corpus_path("../sequences.py")
