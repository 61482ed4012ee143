"""Puts prov-gcp-fake where google.cloud's modules and inventory plugin look for Compute
Engine, for recording their results (the tests' oracle runs only; prov itself is pointed at
the fake with PROV_GCP_ENDPOINT).

google.cloud builds its URLs on https://compute.googleapis.com and https://www.googleapis.com
with no setting to change them. requests honours HTTPS_PROXY and REQUESTS_CA_BUNDLE, so this
is an HTTPS proxy on loopback that accepts CONNECT to those two names only, answers the TLS
handshake itself with a certificate for them (signed by a CA made here for this run), and
passes the decrypted bytes to the fake on 127.0.0.1. Nothing leaves loopback: any other
CONNECT, and any plain proxied request, gets 403.

Usage: python gcp_tls_proxy.py FAKE_PORT DIR
Prints "PORT CA_FILE" once listening, then serves until killed.
"""

import datetime
import os
import select
import socket
import ssl
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NAMES = ["compute.googleapis.com", "www.googleapis.com"]


def make_certs(directory):
    """A CA and a server certificate for NAMES; returns (ca file, cert file, key file)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prov test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day)
        .not_valid_after(now + day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAMES[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day)
        .not_valid_after(now + day)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in NAMES]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = [os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")]
    with open(files[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(files[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(files[2], "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    return data


def pipe(tls, plain):
    """Copies bytes both ways until either side closes."""
    while True:
        ready = [tls] if tls.pending() else select.select([tls, plain], [], [], 120)[0]
        if not ready:
            return
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (plain if s is tls else tls).sendall(data)


def serve(client, fake_port, context):
    try:
        head = read_head(client)
        if head is None:
            return
        parts = head.split(b"\r\n", 1)[0].split()
        target = parts[1].decode("ascii", "replace") if len(parts) == 3 else ""
        host, _, port = target.rpartition(":")
        if parts[0] != b"CONNECT" or host not in NAMES or port != "443":
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        tls = context.wrap_socket(client, server_side=True)
        with socket.create_connection(("127.0.0.1", fake_port)) as plain:
            pipe(tls, plain)
    except (OSError, ssl.SSLError):
        pass
    finally:
        client.close()


def main():
    fake_port, directory = int(sys.argv[1]), sys.argv[2]
    ca_file, cert_file, key_file = make_certs(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], ca_file, flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, fake_port, context), daemon=True).start()


if __name__ == "__main__":
    main()
