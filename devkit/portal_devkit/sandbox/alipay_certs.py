"""Alipay's certificate mode (公钥证书), as the sandbox plays it: a root chain, the app's public key
certificate and Alipay's public key certificate, all issued at sandbox start, and their serial
numbers computed as Alipay (and python-alipay-sdk's DCAliPay) compute them.

- Cert SN = md5("CN=…,OU=…,O=…,C=…" of the issuer + the decimal serial number).
- Root cert SN = the SNs of the chain's RSA-signed certificates joined by "_" (Alipay's root file also
  holds an SM2/ECC root, which is skipped; the sandbox's holds an ECDSA one for the same reason).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from portal_devkit.sandbox.keys import new_rsa_key

RSA_SIGNATURES = {
    SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384, SignatureAlgorithmOID.RSA_WITH_SHA512,
    SignatureAlgorithmOID.RSA_WITH_MD5,
}


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ant Financial Sandbox"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _issue(subject: x509.Name, public_key, issuer: x509.Name, signing_key, ca: bool) -> x509.Certificate:
    now = datetime.now(timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signing_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_sn(cert: x509.Certificate) -> str:
    issuer = cert.issuer
    parts = [issuer.get_attributes_for_oid(oid)[0].value if issuer.get_attributes_for_oid(oid) else ""
             for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME,
                         NameOID.COUNTRY_NAME)]
    text = "CN={},OU={},O={},C={}".format(*parts) + str(cert.serial_number)
    return hashlib.md5(text.encode()).hexdigest()


def root_cert_sn(chain: list[x509.Certificate]) -> str:
    return "_".join(cert_sn(cert) for cert in chain if cert.signature_algorithm_oid in RSA_SIGNATURES)


def issue_all(app_key, platform_key) -> dict:
    """The root chain (RSA root + ECDSA root), the app's and Alipay's public key certificates, and
    their serial numbers."""
    root_key = new_rsa_key()
    root_name = _name("Ant Financial Certification Authority Sandbox R1", "Certification Authority")
    root = _issue(root_name, root_key.public_key(), root_name, root_key, ca=True)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_name = _name("Ant Financial Certification Authority Sandbox E1", "Certification Authority")
    ec_root = _issue(ec_name, ec_key.public_key(), ec_name, ec_key, ca=True)
    # Leaf certificates name an issuing class below the root, as Alipay's do.
    class_name = _name("Ant Financial Certification Authority Sandbox Class 2 R1", "Certification Authority")
    app_cert = _issue(_name("2021004112349999", "Alipay Open Platform"), app_key.public_key(),
                      class_name, root_key, ca=False)
    alipay_cert = _issue(_name("Alipay Sandbox Public Key", "Alipay Open Platform"), platform_key.public_key(),
                         class_name, root_key, ca=False)
    chain = [root, ec_root]
    return {
        # DCAliPay splits the root file on blank lines.
        "root_pem": "\n".join(pem(cert) for cert in chain),
        "app_cert_pem": pem(app_cert),
        "alipay_cert_pem": pem(alipay_cert),
        "root_sn": root_cert_sn(chain),
        "app_cert_sn": cert_sn(app_cert),
        "alipay_cert_sn": cert_sn(alipay_cert),
    }
