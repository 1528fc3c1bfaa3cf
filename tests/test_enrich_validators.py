"""Every validator accepts a valid value and rejects a near miss."""

import pytest

from enrich import validators as v

ONION = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
VN = ["001", "079"]

CASES = [
    (v.is_card, "4111 1111 1111 1111", "4111 1111 1111 1112"),
    (v.is_card, "378282246310005", "378282246310006"),
    (v.is_iban, "GB82WEST12345698765432", "GB82WEST12345698765433"),
    (v.is_iban, "gb82west12345698765432", "XX82WEST12345698765432"),
    (v.is_us_ssn, "536-90-4399", "666-90-4399"),
    (v.is_us_ssn, "536904399", "078-05-1120"),
    (v.is_th_tnin, "3100600445635", "3100600445636"),
    (v.is_th_tnin, "1-2345-45678-78-1", "1-2345-45678-78-9"),
    (v.is_my_nric, "770305-02-1234", "771305-02-1234"),
    (v.is_my_nric, "770305021234", "770305-17-1234"),
    (v.is_id_nik, "3171011708450001", "9971011708450001"),
    (v.is_sg_nric_fin, "S1234567D", "S1234567A"),
    (v.is_sg_nric_fin, "G1234567X", "M1234567L"),
    (v.is_sg_nric_fin, "M1234567K", "M1234567X"),
    (v.is_sg_nric_fin, "F1234567N", "T1234567D"),
    (lambda s: v.is_vn_cccd(s, VN), "001099012345", "003099012345"),
    (v.is_ph_sss, "34-1234567-8", "3412345678"),
    (v.is_ph_tin, "123-456-789-000", "123456789000"),
    (v.is_btc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),
    (v.is_btc, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz"),
    (v.is_btc, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"),
    (v.is_btc, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj1"),
    (v.is_eth, "0x52908400098527886E0F7030069857D2E4169EE7", "0x52908400098527886E0F7030069857D2E4169EE"),
    (v.is_eth, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
    (v.is_xmr, XMR, XMR[:-1]),
    (v.is_xmr, XMR, XMR[:-2] + ("3B" if XMR[-2:] != "3B" else "3C")),
    (v.is_onion_v3, ONION, ONION.replace("duck", "duca")),
    (v.is_ip, "192.168.10.1", "192.168.10.256"),
    (v.is_ip, "2001:db8::8a2e:370:7334", "2001:db8::8a2e::7334"),
]


@pytest.mark.parametrize(("check", "valid", "invalid"), CASES, ids=[f"{c.__name__}-{ok}" for c, ok, _ in CASES])
def test_validator(check, valid, invalid):
    assert check(valid)
    assert not check(invalid)


def test_phone_region_uses_the_country_code_or_the_first_region_it_is_valid_in():
    assert v.phone_region("+66 81 234 5678", []) == "TH"
    assert v.phone_region("0091 98765 43210", []) == "IN"
    assert v.phone_region("081 234 5678", ["US", "TH"]) == "TH"
    assert v.phone_region("12345", ["US", "TH"]) is None


def test_segwit_addresses_use_the_checksum_of_their_version():
    p2wsh = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"  # v0, 32-byte program
    assert v.is_btc(p2wsh) and v.is_btc(p2wsh.upper())
    # BIP-350 test vectors: a v1 address with a bech32 (not bech32m) checksum, and the reverse
    assert not v.is_btc("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd")
    assert not v.is_btc("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh")
    assert not v.is_btc("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"), "testnet is not mainnet"


def test_onion_version_byte_must_be_three_even_with_a_matching_checksum():
    import base64
    import hashlib

    raw = bytearray(base64.b32decode(ONION.removesuffix(".onion").upper()))
    raw[34] = 4
    raw[32:34] = hashlib.sha3_256(b".onion checksum" + bytes(raw[:32]) + b"\x04").digest()[:2]
    other_version = base64.b32encode(bytes(raw)).decode().lower() + ".onion"
    assert not v.is_onion_v3(other_version)
    assert v.is_onion_v3(ONION.upper()) and v.is_onion_v3(ONION.removesuffix(".onion"))
    assert not v.is_onion_v3(ONION.removesuffix(".onion")[:55] + "1.onion")
    assert not v.is_onion_v3("expyuzz4wqqyqhjn.onion")


def test_ethereum_eip55_checksum():
    # the EIP-55 specification's test vectors (mixed case), then the same with one letter's case flipped
    vectors = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
               "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]
    for address in vectors:
        assert v.is_eth(address) and v.eth_checksummed(address)
        i = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
        flipped = address[:i] + address[i].swapcase() + address[i + 1 :]
        assert not v.is_eth(flipped)
    # one case only: EIP-55 carries no checksum, the structure is all that can be checked
    assert v.is_eth(vectors[0].lower()) and not v.eth_checksummed(vectors[0].lower())


def test_monero_checksum_is_keccak_over_the_decoded_address():
    from enrich import checksums

    raw = checksums.monero_decode(XMR)
    assert raw is not None and len(raw) == 69 and raw[0] == 18  # standard mainnet address
    assert checksums.keccak256(raw[:-4])[:4] == raw[-4:]
    # a well-formed address with one character changed in the middle fails the checksum
    changed = XMR[:40] + ("A" if XMR[40] != "A" else "B") + XMR[41:]
    assert not v.is_xmr(changed)


def test_singapore_m_series_fin():
    # M series (from 2022): offset 3 and table KLJNPQRTUWX; exactly one check letter fits
    for digits in ("1234567", "0000001", "9876543"):
        valid = [letter for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if v.is_sg_nric_fin(f"M{digits}{letter}")]
        assert len(valid) == 1 and valid[0] in "KLJNPQRTUWX"
    assert v.is_sg_nric_fin("M1234567K") and v.is_sg_nric_fin("m1234567k")
