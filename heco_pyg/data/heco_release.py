"""The official HeCo release (github.com/liun-online/HeCo, ``data/<name>/``): the commit
its files are downloaded from, the SHA-256 of each file, pinned, and the reader of its
pickled ``nei_*.npy`` object arrays.

Downloads are checked against these values. The ACM and DBLP values were computed from
the release files (``../shared/data/heco``); the AMiner and Freebase ``nei_*.npy`` values
are those of the official repository's files (issue 25), their other files have no pin.

The release stores ragged neighbour lists as pickled numpy object arrays. They are read
by :func:`read_object_array`, whose unpickler admits numpy's array reconstruction and
nothing else, so no file (pinned or not, swapped in after a check or not) can run code.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from heco_pyg.core.npy import read_header

COMMIT = "b90100c4ef66370a1b67efdb59ec321a70edd436"
URL = f"https://raw.githubusercontent.com/liun-online/HeCo/{COMMIT}/data"

SHA256: dict[str, dict[str, str]] = {
    "acm": {
        "a_feat.npz": "e2f2ac8d357310149fc7badbf32ea0b171dec25aad6c37ec45de592666c65555",
        "labels.npy": "019284b3e6a58fc8ebd432fb99aaaf183ad41dbf56b8ca7af0b56dca9dd844b5",
        "nei_a.npy": "1b60e195f2d3a7ead0b591f4ca1b25c5e048390decb37362a828780c4d761c05",
        "nei_s.npy": "c0c4b7fe18b569384e47a582e0656bd17eb8994a0835d51bac121bfb98a2663d",
        "p_feat.npz": "9e1019dfceaaabb19ee5b5f09de3147ffbaa818b43c3fc3f92bdfaf4ed5f02f4",
        "pa.txt": "e67385fc13c3b3b624d81de7eb6e4245d9aeafa063c5466c6fab0f151bcb84d6",
        "pap.npz": "3f25894497558f74356448f1a504c946efef9f23e7beb74d38bc9ecf95a4dbb6",
        "pos.npz": "d683afe2d8cad6b5d99724f027a03bf82a078ecf8835e8e9cb58a7962127e642",
        "ps.txt": "3da7615ef5567c5f7f1ab9ec770c4b4b8b6a54790baa1cda3d4499329dfc22d5",
        "psp.npz": "cd25669b884825155487308c7d4adb42d99edbc843215438219ad551f86c8f3e",
        "test_20.npy": "eb90e38c882009c6439d749d160d39ed64f8813e9f672c02be54993914934afa",
        "test_40.npy": "f73d7e23459dd654a7567ee8bf123849f400096f8fac558dc37033d3fdc11aa6",
        "test_60.npy": "5181ccdeacc54b88ed53681ba9f2c789cc6d67a499f40a68ac6827a96932b976",
        "train_20.npy": "6bf4c1cef638f3ffe1826091b9be7fbff23a4935dfbde03c24b492d264d67684",
        "train_40.npy": "98239282e69e9775a9b13bc54598cc780eca31dcaeb81963efbbd4c6c3e51435",
        "train_60.npy": "5b86f56415b84d1faa8c8f864cd37272589ec4ffff1b0ca347d4c39ee38dcc02",
        "val_20.npy": "4280dccb661a50196502a39973a462919399fcfcd97b1d43581dfa9ca02d1b5d",
        "val_40.npy": "19fb1e72b76bc24da95423d1a83583a42fe5b62d69b2b197312f630ff5096202",
        "val_60.npy": "e234b6c1e19445ed6cc3694a273b943bbded8e847a9d0246f18d59f76fb8cd5d",
    },
    "dblp": {
        "a_feat.npz": "997876bf8d90d29fdb90bf4801a9909893a9ee5646a85aeca079ce167595ec41",
        "apa.npz": "db86d949728d422cf388741d3cd80280e0ab79ac27242b3d0a0a0635a476a3bb",
        "apcpa.npz": "25181174771506d9636daae4eb98fe048c61654cd1280cf35315c7c4adde0f56",
        "aptpa.npz": "9d45713f74577d895f0533bd40c3e3af345b54a4f2310a897f6c1316740cfa28",
        "labels.npy": "817efdc3ebb9e96067b8770dad5894b06ecabde2ac95d4b17443985f0439fda7",
        "nei_p.npy": "f195754f35a26d18222c0124c85d6aa238e7a1ae4f6089cc664ec616e403f9ab",
        "p_feat.npz": "99c3d1836c44cda016f790d1cdbcc76fed729e48b9e2a9332eac145960716d9f",
        "pa.txt": "94cf38a92733d21664f55907305773bb6fb90dd9d1579392517596488f061382",
        "pc.txt": "316182e11f19fddfc3a01ebd6541134a7c3931ee62262e638be607bb3f9768e4",
        "pos.npz": "593aba2899e5ae6e70da9943fc7e55fd07bfc7ad9bb92755fbd10f41ac979632",
        "pt.txt": "78f3d6f9a528ed112a2d29bd2a672cdf13a03779a87ce89856e6a622eda280b8",
        "t_feat.npz": "462ea84b5eebfd4883910d0d15afff53e960ae8a80d7d62591f86a8d61fb5467",
        "test_20.npy": "a7fc6b67e477df8301915065b116fb7742d99f28323a2bf8bcb57663a2d5c490",
        "test_40.npy": "9af7116d1d11e656e4fc64dc11601353a3f37cad8fb9ffe8d71cf16d7e2a7ca6",
        "test_60.npy": "52122be025ae02256f82376bc62d1ba74083a4473a211e89a1389d67ca6e68bb",
        "train_20.npy": "85f0e91265931c8b1433ed7bd04e7e8f4c8c4246784d4443c147d6f24cccc709",
        "train_40.npy": "82cead2b36410b52729e2034c0e75de55779e718e4a35f7cc0a31b25526d8c2b",
        "train_60.npy": "47086d378beda443b1a2aa1bb2d681e5a6d2b3e819a3e9850e365ea1f8f9b819",
        "val_20.npy": "6c06b017a4c45c7cd9d01c67fb409336ddcd5c076edb9c90792cc2d027565d38",
        "val_40.npy": "b4c0b94ed81eeb28fe9bf6dd4a057de9093aa512caf4197165a2634568e7b2d5",
        "val_60.npy": "7ba309a9daec8bd5d92e217cecc6a22d8547b7b0193a8a30855fffd41636cec6",
    },
    "aminer": {
        "nei_a.npy": "69a0cc596ed1c6d16e7da32921db4c693279351d75bbb5a3bcc2f58513f319d1",
        "nei_r.npy": "568ad58013e0e491b42e5b07e102cb25cc17253c45eb00029615c29133ef513c",
    },
    "freebase": {
        "nei_a.npy": "957f366d1a4b1fa89cb7b841d363fb87b524990b65bc83826d13cf8a43948fe0",
        "nei_d.npy": "c6b2bea16d81b0bd10d24b3192750a50ceea1fb66addb89ddf444013d0eb77ca",
        "nei_w.npy": "94cf11663f364417915ef3660ab3f2c0207efc213e780d9cb74fa73deca0cdd6",
    },
}


# The only globals a numpy object array of integer arrays pickles: the array and dtype
# reconstructors (module names of numpy 1 and 2) and numpy scalars.
_ALLOWED_GLOBALS = {
    (module, name): value
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name, value in (
        ("_reconstruct", np.zeros(0).__reduce__()[0]),
        ("scalar", np.int64(0).__reduce__()[0]),
    )
} | {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and scalars and nothing else: any other global (``os.system``,
    ``builtins.eval``, ...) is refused before it is looked up, so a payload cannot run."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def read_object_array(raw: bytes) -> np.ndarray:
    """The array in the ``.npy`` bytes ``raw``; an object (pickled) array is rebuilt by a
    restricted unpickler that admits only numpy's own reconstruction (plain arrays never
    unpickle). Raises ``ValueError`` for anything that is not such an array; the bytes
    are the caller's, read once, so what was hashed is what is parsed."""
    stream = io.BytesIO(raw)
    shape, dtype = read_header(stream)
    if not dtype.hasobject:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    try:
        array = _ArrayUnpickler(stream).load()
    except (pickle.UnpicklingError, AttributeError, EOFError, TypeError, IndexError) as error:
        raise ValueError(f"a pickle that is not a numpy array: {error}") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise ValueError(f"the pickle holds a {type(array).__name__}, not an array of {shape}")
    return array
