"""``crypto.subtle`` for pushed JavaScript: the Web Crypto operations, computed with ``cryptography``.

``runtime.js`` keeps each ``CryptoKey``'s material itself (raw bytes for secret
keys, PKCS#8 for private and SPKI for public ones) and hands it here with every
operation, so the runner holds no key state between calls and a key made at a
module's top level works in every later call. Every byte string crosses as
base64. Failures are :class:`WebCryptoError` with the ``DOMException`` name Web
Crypto gives them (``NotSupportedError``, ``DataError``, ``OperationError``),
which ``runtime.js`` throws as such.

The algorithms are the ones Convex's runtime offers and JWT libraries (jose)
use: SHA digests, HMAC, AES-GCM/CBC/CTR, ECDSA on P-256/384/521, RSASSA-PKCS1-v1_5,
RSA-PSS, RSA-OAEP, Ed25519, PBKDF2 and HKDF; keys as raw, JWK, PKCS#8 and SPKI.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.padding import PKCS7


class WebCryptoError(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA-1": hashes.SHA1, "SHA-256": hashes.SHA256, "SHA-384": hashes.SHA384, "SHA-512": hashes.SHA512,
}
CURVES: dict[str, Callable[[], ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
CURVE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}
AES = ("AES-GCM", "AES-CBC", "AES-CTR")
RSA = ("RSASSA-PKCS1-v1_5", "RSA-PSS", "RSA-OAEP")
KDF = ("PBKDF2", "HKDF")
DER = serialization.Encoding.DER


def _bytes(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise WebCryptoError("DataError", "The JWK holds a value that is not base64url") from None


def _hash(name: str | None) -> hashes.HashAlgorithm:
    factory = HASHES.get(name or "")
    if factory is None:
        raise WebCryptoError("NotSupportedError", f"Unrecognized hash algorithm: {name}")
    return factory()


def _int_bytes(value: int, size: int | None = None) -> bytes:
    return value.to_bytes(size or max(1, (value.bit_length() + 7) // 8), "big")


def _int(text: str) -> int:
    return int.from_bytes(_unb64url(text), "big")


# --- key material -------------------------------------------------------------------------------

def _key(type_: str, algorithm: dict[str, Any], material: bytes) -> dict[str, Any]:
    return {"type": type_, "algorithm": algorithm, "material": _b64(material)}


def _private_der(key: Any) -> bytes:
    return key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _public_der(key: Any) -> bytes:
    return key.public_bytes(DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _load(descriptor: dict[str, Any]) -> Any:
    material = _bytes(descriptor["material"])
    if descriptor["type"] == "secret":
        return material
    if descriptor["type"] == "private":
        return serialization.load_der_private_key(material, None)
    return serialization.load_der_public_key(material)


def _asymmetric(algorithm: dict[str, Any], key: Any) -> dict[str, Any]:
    """The descriptor of an RSA, EC or Ed25519 key object, its algorithm filled in from the key."""
    name = algorithm["name"]
    private = isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
    if name in RSA:
        if not isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
            raise WebCryptoError("DataError", f"The key is not an RSA key, as {name} needs")
        numbers = key.public_key().public_numbers() if private else key.public_numbers()
        algorithm = {"name": name, "hash": {"name": _hash_name(algorithm.get("hash"))},
                     "modulusLength": numbers.n.bit_length(), "publicExponent": _b64(_int_bytes(numbers.e))}
    elif name == "ECDSA":
        if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
            raise WebCryptoError("DataError", "The key is not an elliptic-curve key, as ECDSA needs")
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(key.curve.name)
        if curve is None or (algorithm.get("namedCurve") and algorithm["namedCurve"] != curve):
            raise WebCryptoError("DataError", f"The key's curve is not {algorithm.get('namedCurve')}")
        algorithm = {"name": name, "namedCurve": curve}
    elif name == "Ed25519":
        if not isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
            raise WebCryptoError("DataError", "The key is not an Ed25519 key")
        algorithm = {"name": name}
    else:
        raise WebCryptoError("NotSupportedError", f"Unrecognized algorithm: {name}")
    if private:
        return _key("private", algorithm, _private_der(key))
    return _key("public", algorithm, _public_der(key))


def _secret(algorithm: dict[str, Any], raw: bytes) -> dict[str, Any]:
    name = algorithm["name"]
    if name == "HMAC":
        if not raw:
            raise WebCryptoError("DataError", "An HMAC key cannot be empty")
        return _key("secret", {"name": name, "hash": {"name": _hash_name(algorithm.get("hash"))}, "length": len(raw) * 8}, raw)
    if name in AES:
        if len(raw) not in (16, 24, 32):
            raise WebCryptoError("DataError", f"An {name} key is 128, 192 or 256 bits, not {len(raw) * 8}")
        return _key("secret", {"name": name, "length": len(raw) * 8}, raw)
    if name in KDF:
        return _key("secret", {"name": name}, raw)
    raise WebCryptoError("NotSupportedError", f"Unrecognized algorithm: {name}")


def _hash_name(name: str | None) -> str:
    _hash(name)
    return str(name)


def import_key(request: dict[str, Any]) -> dict[str, Any]:
    form, algorithm = request["format"], request["algorithm"]
    name = algorithm["name"]
    try:
        if form == "raw":
            data = _bytes(request["keyData"])
            if name in ("HMAC", *AES, *KDF):
                return _secret(algorithm, data)
            if name == "ECDSA":
                curve = CURVES.get(algorithm.get("namedCurve", ""))
                if curve is None:
                    raise WebCryptoError("NotSupportedError", f"Unrecognized curve: {algorithm.get('namedCurve')}")
                return _asymmetric(algorithm, ec.EllipticCurvePublicKey.from_encoded_point(curve(), data))
            if name == "Ed25519":
                return _asymmetric(algorithm, ed25519.Ed25519PublicKey.from_public_bytes(data))
            raise WebCryptoError("NotSupportedError", f"{name} keys cannot be imported as raw")
        if form == "pkcs8":
            return _asymmetric(algorithm, serialization.load_der_private_key(_bytes(request["keyData"]), None))
        if form == "spki":
            return _asymmetric(algorithm, serialization.load_der_public_key(_bytes(request["keyData"])))
        if form == "jwk":
            return _import_jwk(algorithm, request["keyData"])
    except WebCryptoError:
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise WebCryptoError("DataError", f"Invalid key data: {error}") from None
    raise WebCryptoError("NotSupportedError", f"Unrecognized key format: {form}")


def _import_jwk(algorithm: dict[str, Any], jwk: dict[str, Any]) -> dict[str, Any]:
    kty = jwk.get("kty")
    if kty == "oct":
        return _secret(algorithm, _unb64url(jwk["k"]))
    if kty == "RSA":
        public = rsa.RSAPublicNumbers(_int(jwk["e"]), _int(jwk["n"]))
        if "d" not in jwk:
            return _asymmetric(algorithm, public.public_key())
        private = rsa.RSAPrivateNumbers(_int(jwk["p"]), _int(jwk["q"]), _int(jwk["d"]), _int(jwk["dp"]), _int(jwk["dq"]),
                                        _int(jwk["qi"]), public)
        return _asymmetric(algorithm, private.private_key())
    if kty == "EC":
        curve = CURVES.get(jwk.get("crv", ""))
        if curve is None:
            raise WebCryptoError("DataError", f"Unrecognized curve: {jwk.get('crv')}")
        point = ec.EllipticCurvePublicNumbers(_int(jwk["x"]), _int(jwk["y"]), curve())
        if "d" not in jwk:
            return _asymmetric(algorithm, point.public_key())
        return _asymmetric(algorithm, ec.EllipticCurvePrivateNumbers(_int(jwk["d"]), point).private_key())
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        if "d" in jwk:
            return _asymmetric(algorithm, ed25519.Ed25519PrivateKey.from_private_bytes(_unb64url(jwk["d"])))
        return _asymmetric(algorithm, ed25519.Ed25519PublicKey.from_public_bytes(_unb64url(jwk["x"])))
    raise WebCryptoError("DataError", f"Unsupported JWK key type: {kty}")


JWK_ALG = {
    ("HMAC", "SHA-1"): "HS1", ("HMAC", "SHA-256"): "HS256", ("HMAC", "SHA-384"): "HS384", ("HMAC", "SHA-512"): "HS512",
    ("RSASSA-PKCS1-v1_5", "SHA-1"): "RS1", ("RSASSA-PKCS1-v1_5", "SHA-256"): "RS256", ("RSASSA-PKCS1-v1_5", "SHA-384"): "RS384",
    ("RSASSA-PKCS1-v1_5", "SHA-512"): "RS512", ("RSA-PSS", "SHA-256"): "PS256", ("RSA-PSS", "SHA-384"): "PS384",
    ("RSA-PSS", "SHA-512"): "PS512", ("RSA-OAEP", "SHA-1"): "RSA-OAEP", ("RSA-OAEP", "SHA-256"): "RSA-OAEP-256",
    ("RSA-OAEP", "SHA-384"): "RSA-OAEP-384", ("RSA-OAEP", "SHA-512"): "RSA-OAEP-512",
}


def export_key(request: dict[str, Any]) -> dict[str, Any]:
    form, descriptor = request["format"], request["key"]
    algorithm, type_ = descriptor["algorithm"], descriptor["type"]
    key = _load(descriptor)
    if form == "raw":
        if type_ == "secret":
            return {"data": _b64(key)}
        if type_ == "public" and algorithm["name"] == "ECDSA":
            return {"data": _b64(key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))}
        if type_ == "public" and algorithm["name"] == "Ed25519":
            return {"data": _b64(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))}
        raise WebCryptoError("InvalidAccessError", f"A {type_} {algorithm['name']} key cannot be exported as raw")
    if form == "pkcs8" and type_ == "private":
        return {"data": descriptor["material"]}
    if form == "spki" and type_ == "public":
        return {"data": descriptor["material"]}
    if form == "jwk":
        return {"jwk": _export_jwk(algorithm, type_, key)}
    raise WebCryptoError("InvalidAccessError", f"A {type_} key cannot be exported as {form}")


def _export_jwk(algorithm: dict[str, Any], type_: str, key: Any) -> dict[str, Any]:
    name = algorithm["name"]
    hash_name = (algorithm.get("hash") or {}).get("name")
    if type_ == "secret":
        jwk: dict[str, Any] = {"kty": "oct", "k": _b64url(key)}
        if name == "HMAC":
            jwk["alg"] = JWK_ALG.get((name, hash_name))
        elif name in AES:
            jwk["alg"] = f"A{len(key) * 8}{name.split('-')[1]}"
        else:
            raise WebCryptoError("NotSupportedError", f"{name} keys cannot be exported")
        return jwk
    if name in RSA:
        numbers = key.private_numbers() if type_ == "private" else None
        public = key.public_key().public_numbers() if type_ == "private" else key.public_numbers()
        jwk = {"kty": "RSA", "n": _b64url(_int_bytes(public.n)), "e": _b64url(_int_bytes(public.e)), "alg": JWK_ALG.get((name, hash_name))}
        if numbers is not None:
            jwk.update(d=_b64url(_int_bytes(numbers.d)), p=_b64url(_int_bytes(numbers.p)), q=_b64url(_int_bytes(numbers.q)),
                       dp=_b64url(_int_bytes(numbers.dmp1)), dq=_b64url(_int_bytes(numbers.dmq1)), qi=_b64url(_int_bytes(numbers.iqmp)))
        return jwk
    if name == "ECDSA":
        curve = algorithm["namedCurve"]
        size = CURVE_BYTES[curve]
        public = key.public_key().public_numbers() if type_ == "private" else key.public_numbers()
        jwk = {"kty": "EC", "crv": curve, "x": _b64url(_int_bytes(public.x, size)), "y": _b64url(_int_bytes(public.y, size))}
        if type_ == "private":
            jwk["d"] = _b64url(_int_bytes(key.private_numbers().private_value, size))
        return jwk
    public_key = key.public_key() if type_ == "private" else key
    jwk = {"kty": "OKP", "crv": "Ed25519",
           "x": _b64url(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))}
    if type_ == "private":
        jwk["d"] = _b64url(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()))
    return jwk


def generate_key(request: dict[str, Any]) -> dict[str, Any]:
    algorithm = request["algorithm"]
    name = algorithm["name"]
    if name == "HMAC":
        length = algorithm.get("length") or _hash(algorithm.get("hash")).block_size * 8
        return {"key": _secret(algorithm, os.urandom(length // 8))}
    if name in AES:
        return {"key": _secret(algorithm, os.urandom(int(algorithm.get("length") or 0) // 8))}
    if name in RSA:
        exponent = int.from_bytes(_bytes(algorithm.get("publicExponent")) or b"\x01\x00\x01", "big")
        private = rsa.generate_private_key(exponent, int(algorithm["modulusLength"]))
    elif name == "ECDSA":
        curve = CURVES.get(algorithm.get("namedCurve", ""))
        if curve is None:
            raise WebCryptoError("NotSupportedError", f"Unrecognized curve: {algorithm.get('namedCurve')}")
        private = ec.generate_private_key(curve())
    elif name == "Ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise WebCryptoError("NotSupportedError", f"Unrecognized algorithm: {name}")
    return {"privateKey": _asymmetric(algorithm, private), "publicKey": _asymmetric(algorithm, private.public_key())}


# --- operations -------------------------------------------------------------------------------

def digest(request: dict[str, Any]) -> dict[str, Any]:
    hasher = hashes.Hash(_hash(request["algorithm"]["name"]))
    hasher.update(_bytes(request["data"]))
    return {"data": _b64(hasher.finalize())}


def sign(request: dict[str, Any]) -> dict[str, Any]:
    algorithm, descriptor, data = request["algorithm"], request["key"], _bytes(request["data"])
    key = _load(descriptor)
    name = descriptor["algorithm"]["name"]
    if name == "HMAC":
        mac = hmac.HMAC(key, _hash(descriptor["algorithm"]["hash"]["name"]))
        mac.update(data)
        return {"data": _b64(mac.finalize())}
    if name == "RSASSA-PKCS1-v1_5":
        return {"data": _b64(key.sign(data, padding.PKCS1v15(), _hash(descriptor["algorithm"]["hash"]["name"])))}
    if name == "RSA-PSS":
        hash_ = _hash(descriptor["algorithm"]["hash"]["name"])
        return {"data": _b64(key.sign(data, padding.PSS(padding.MGF1(hash_), int(algorithm.get("saltLength", 0))), hash_))}
    if name == "ECDSA":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_hash(algorithm.get("hash")))))
        size = CURVE_BYTES[descriptor["algorithm"]["namedCurve"]]
        return {"data": _b64(_int_bytes(r, size) + _int_bytes(s, size))}  # Web Crypto's r || s, not DER
    if name == "Ed25519":
        return {"data": _b64(key.sign(data))}
    raise WebCryptoError("NotSupportedError", f"{name} cannot sign")


def verify(request: dict[str, Any]) -> dict[str, Any]:
    algorithm, descriptor = request["algorithm"], request["key"]
    data, signature = _bytes(request["data"]), _bytes(request["signature"])
    key = _load(descriptor)
    name = descriptor["algorithm"]["name"]
    try:
        if name == "HMAC":
            mac = hmac.HMAC(key, _hash(descriptor["algorithm"]["hash"]["name"]))
            mac.update(data)
            mac.verify(signature)
        elif name == "RSASSA-PKCS1-v1_5":
            key.verify(signature, data, padding.PKCS1v15(), _hash(descriptor["algorithm"]["hash"]["name"]))
        elif name == "RSA-PSS":
            hash_ = _hash(descriptor["algorithm"]["hash"]["name"])
            key.verify(signature, data, padding.PSS(padding.MGF1(hash_), int(algorithm.get("saltLength", 0))), hash_)
        elif name == "ECDSA":
            size = CURVE_BYTES[descriptor["algorithm"]["namedCurve"]]
            if len(signature) != 2 * size:
                return {"valid": False}
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_hash(algorithm.get("hash"))))
        elif name == "Ed25519":
            key.verify(signature, data)
        else:
            raise WebCryptoError("NotSupportedError", f"{name} cannot verify")
    except InvalidSignature:
        return {"valid": False}
    return {"valid": True}


def _aes(algorithm: dict[str, Any], key: bytes, encrypt: bool, data: bytes) -> bytes:
    name = algorithm["name"]
    if name == "AES-GCM":
        tag_bytes = int(algorithm.get("tagLength", 128)) // 8
        iv, aad = _bytes(algorithm.get("iv")), _bytes(algorithm.get("additionalData")) or None
        if encrypt:
            encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
            if aad:
                encryptor.authenticate_additional_data(aad)
            body = encryptor.update(data) + encryptor.finalize()
            return body + encryptor.tag[:tag_bytes]
        if len(data) < tag_bytes:
            raise WebCryptoError("OperationError", "The data is shorter than its authentication tag")
        decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, data[-tag_bytes:], min_tag_length=tag_bytes)).decryptor()
        if aad:
            decryptor.authenticate_additional_data(aad)
        return decryptor.update(data[:-tag_bytes]) + decryptor.finalize()
    if name == "AES-CBC":
        cipher = Cipher(algorithms.AES(key), modes.CBC(_bytes(algorithm.get("iv"))))
        if encrypt:
            padder = PKCS7(128).padder()
            encryptor = cipher.encryptor()
            return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
        decryptor = cipher.decryptor()
        unpadder = PKCS7(128).unpadder()
        return unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    counter = _bytes(algorithm.get("counter"))  # AES-CTR: the whole 16-byte block counts
    transform = Cipher(algorithms.AES(key), modes.CTR(counter))
    worker = transform.encryptor() if encrypt else transform.decryptor()
    return worker.update(data) + worker.finalize()


def _crypt(request: dict[str, Any], encrypt: bool) -> dict[str, Any]:
    algorithm, descriptor, data = request["algorithm"], request["key"], _bytes(request["data"])
    key = _load(descriptor)
    name = descriptor["algorithm"]["name"]
    try:
        if name in AES:
            return {"data": _b64(_aes(algorithm, key, encrypt, data))}
        if name == "RSA-OAEP":
            hash_ = _hash(descriptor["algorithm"]["hash"]["name"])
            oaep = padding.OAEP(padding.MGF1(hash_), hash_, _bytes(algorithm.get("label")) or None)
            return {"data": _b64(key.encrypt(data, oaep) if encrypt else key.decrypt(data, oaep))}
    except (InvalidTag, ValueError) as error:
        raise WebCryptoError("OperationError", f"The operation failed for an operation-specific reason{': ' + str(error) if str(error) else ''}") from None
    raise WebCryptoError("NotSupportedError", f"{name} cannot {'encrypt' if encrypt else 'decrypt'}")


def derive_bits(request: dict[str, Any]) -> dict[str, Any]:
    algorithm, descriptor, length = request["algorithm"], request["key"], int(request["length"])
    if length % 8:
        raise WebCryptoError("OperationError", "The length must be a multiple of 8")
    key = _load(descriptor)
    name = descriptor["algorithm"]["name"]
    if name == "PBKDF2":
        kdf: Any = PBKDF2HMAC(_hash(algorithm.get("hash")), length // 8, _bytes(algorithm.get("salt")), int(algorithm["iterations"]))
    elif name == "HKDF":
        kdf = HKDF(_hash(algorithm.get("hash")), length // 8, _bytes(algorithm.get("salt")), _bytes(algorithm.get("info")))
    else:
        raise WebCryptoError("NotSupportedError", f"{name} cannot derive bits")
    return {"data": _b64(kdf.derive(key))}


OPERATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "digest": digest, "importKey": import_key, "exportKey": export_key, "generateKey": generate_key, "sign": sign,
    "verify": verify, "encrypt": lambda request: _crypt(request, True), "decrypt": lambda request: _crypt(request, False),
    "deriveBits": derive_bits,
}


def subtle(request: dict[str, Any]) -> dict[str, Any]:
    """One ``crypto.subtle`` operation: its result, or ``{"error": {name, message}}`` to throw."""
    operation = OPERATIONS.get(request.get("method", ""))
    try:
        if operation is None:
            raise WebCryptoError("NotSupportedError", f"crypto.subtle.{request.get('method')} is not supported")
        return operation(request)
    except WebCryptoError as error:
        return {"error": {"name": error.name, "message": str(error)}}
    except (ValueError, TypeError, KeyError) as error:
        return {"error": {"name": "OperationError", "message": f"The operation failed: {error}"}}
