"""Whether MNIST is there (dae.data.have_mnist), and fetching it (download_mnist) with the network replaced by
fake mirrors: no test here opens a connection (the fixture `no_network` makes any attempt fail loudly)."""

import gzip
import hashlib
import io
import shutil
import socket
import urllib.error
import urllib.request

import pytest

from dae.data import MNIST_FILES, DataError, download_mnist, have_mnist
from tools.synthetic import write_synthetic_mnist


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Eight training and four test digits in MNIST's files."""
    return write_synthetic_mnist(tmp_path_factory.mktemp("small"), 8, 4)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def raw(root):
    return root / "MNIST" / "raw"


def everything_in(folder) -> list[str]:
    """Every name in a folder, hidden ones (temporary files) included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---- have_mnist ----------------------------------------------------------------------------------------


def test_an_empty_folder_has_no_mnist(tmp_path):
    assert not have_mnist(tmp_path) and not have_mnist(tmp_path / "not there")


def test_the_four_files_make_mnist(small, tmp_path):
    shutil.copytree(small, tmp_path / "copy")
    assert have_mnist(tmp_path / "copy") and have_mnist(str(tmp_path / "copy"))  # a path or a str


@pytest.mark.parametrize("missing", MNIST_FILES)
def test_three_of_the_four_are_not_enough(small, tmp_path, missing):
    root = tmp_path / "copy"
    shutil.copytree(small, root)
    (raw(root) / missing).unlink()
    assert not have_mnist(root)
    (raw(root) / f"{missing}.gz").write_bytes(gzip.compress((raw(small) / missing).read_bytes()))
    assert have_mnist(root)  # its archive stands in for it


def test_archives_alone_and_a_mix_count(small, tmp_path):
    for i, name in enumerate(MNIST_FILES):
        data = (raw(small) / name).read_bytes()
        raw(tmp_path).mkdir(parents=True, exist_ok=True)
        if i % 2:
            (raw(tmp_path) / name).write_bytes(data)
        else:
            (raw(tmp_path) / f"{name}.gz").write_bytes(gzip.compress(data))
    assert have_mnist(tmp_path)


def test_folders_named_like_the_files_or_files_in_the_wrong_place_do_not_count(small, tmp_path):
    for name in MNIST_FILES:
        (raw(tmp_path / "dirs") / name).mkdir(parents=True)
    assert not have_mnist(tmp_path / "dirs")
    flat = tmp_path / "flat"  # the files straight in the folder, not in MNIST/raw
    shutil.copytree(raw(small), flat)
    assert not have_mnist(flat) and not have_mnist(tmp_path)


# ---- download_mnist, from fake mirrors -----------------------------------------------------------------


class Fake:
    """Two mirrors serving archives of the small set; what each URL answers can be changed, and every
    request is counted."""

    def __init__(self, small):
        from torchvision.datasets import MNIST

        self.archives = {f"{n}.gz": gzip.compress((raw(small) / n).read_bytes()) for n in MNIST_FILES}
        self.mirrors = ["http://one.invalid/", "http://two.invalid/"]
        self.answers = {m + n: b for m in self.mirrors for n, b in self.archives.items()}
        self.asked: list[str] = []
        self.timeouts: list[float] = []
        self.resources = [(n, hashlib.md5(b).hexdigest()) for n, b in self.archives.items()]
        self.MNIST = MNIST

    def urlopen(self, url, timeout=None):
        self.asked.append(url)
        self.timeouts.append(timeout)
        answer = self.answers.get(url)
        if answer is None:
            raise urllib.error.URLError("unreachable")
        return answer() if callable(answer) else io.BytesIO(answer)


class CutOff:
    """A response that sends `first` bytes, then loses the connection."""

    def __init__(self, data: bytes, first: int = 100):
        self.data, self.first, self.sent = data, first, False

    def read(self, n=-1):
        if not self.sent:
            self.sent = True
            return self.data[: self.first]
        raise ConnectionResetError("connection reset by peer")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake(small, monkeypatch):
    f = Fake(small)
    monkeypatch.setattr(f.MNIST, "resources", f.resources)
    monkeypatch.setattr(f.MNIST, "mirrors", f.mirrors)
    monkeypatch.setattr(urllib.request, "urlopen", f.urlopen)
    return f


def test_files_already_there_and_whole_are_not_fetched_again(fake, tmp_path):
    first, second = list(fake.archives)[:2]
    raw(tmp_path).mkdir(parents=True)
    (raw(tmp_path) / first).write_bytes(fake.archives[first])
    seen = []
    download_mnist(tmp_path, lambda done, total: seen.append((done, total)))
    assert not any(url.endswith(first) for url in fake.asked)
    assert len(fake.asked) == 3  # the other three, each from the first mirror
    assert seen[-1][0] == sum(map(len, fake.archives.values()))  # the file already there counts as done
    assert len({total for _, total in seen}) == 1  # one total all along
    fake.asked.clear()
    download_mnist(tmp_path)
    assert fake.asked == []  # all four whole: nothing to fetch


def test_a_damaged_file_already_there_is_replaced(fake, tmp_path):
    name = list(fake.archives)[1]
    raw(tmp_path).mkdir(parents=True)
    (raw(tmp_path) / name).write_bytes(b"half an archive")
    download_mnist(tmp_path)
    assert (raw(tmp_path) / name).read_bytes() == fake.archives[name]
    assert any(url.endswith(name) for url in fake.asked)


def test_a_connection_lost_half_way_leaves_no_part_and_the_next_mirror_gives_it_whole(fake, tmp_path):
    name = list(fake.archives)[0]
    fake.answers["http://one.invalid/" + name] = lambda: CutOff(fake.archives[name])
    download_mnist(tmp_path)
    assert everything_in(raw(tmp_path)) == sorted(fake.archives)  # no temporary file left beside them
    assert (raw(tmp_path) / name).read_bytes() == fake.archives[name]
    assert fake.asked.count("http://two.invalid/" + name) == 1


def test_when_every_mirror_fails_the_files_before_stay_whole_and_no_part_is_left(fake, tmp_path):
    names = list(fake.archives)
    third = names[2]
    for mirror in fake.mirrors:
        fake.answers[mirror + third] = lambda: CutOff(fake.archives[third])
    with pytest.raises(DataError, match="MNIST could not be downloaded") as e:
        download_mnist(tmp_path)
    assert (
        "connection reset" in str(e.value) and "one.invalid" in str(e.value) and "two.invalid" in str(e.value)
    )
    for name in MNIST_FILES:  # what to do instead: the four files and where they go
        assert str(raw(tmp_path) / name) in str(e.value)
    assert everything_in(raw(tmp_path)) == sorted(names[:2])  # the two before it, whole; nothing of the third
    for name in names[:2]:
        assert (raw(tmp_path) / name).read_bytes() == fake.archives[name]
    assert not have_mnist(tmp_path)

    fake.answers = {m + n: b for m in fake.mirrors for n, b in fake.archives.items()}  # back online
    fake.asked.clear()
    download_mnist(tmp_path)
    assert have_mnist(tmp_path) and sorted(u.rsplit("/", 1)[1] for u in fake.asked) == sorted(names[2:])


def test_offline_is_one_error_and_an_empty_folder(fake, tmp_path):
    fake.answers.clear()  # every mirror unreachable
    with pytest.raises(DataError) as e:
        download_mnist(tmp_path, timeout=2.5)
    assert "unreachable" in str(e.value)
    assert everything_in(raw(tmp_path)) == [] and not have_mnist(tmp_path)
    assert fake.asked == [m + list(fake.archives)[0] for m in fake.mirrors]  # both tried, then it gives up
    assert set(fake.timeouts) == {2.5}
