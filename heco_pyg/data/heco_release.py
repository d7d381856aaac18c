"""The official HeCo release (github.com/liun-online/HeCo, ``data/<name>/``): the commit
its files are downloaded from, and the SHA-256 of each file, pinned.

Downloads are checked against these values, and an object (pickled) ``nei_*.npy`` is
unpickled only when its hash is listed here (or in ``data.trusted_sha256``). The values
were computed from the release files of ACM and DBLP (``../shared/data/heco``); AMiner
and Freebase were not available, so their files have no pin: their plain arrays are
read without pickle, and their ``nei_*.npy`` need ``data.trusted_sha256``.
"""

from __future__ import annotations

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
}
