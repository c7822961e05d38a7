"""Drive a KMIP server with PyKMIP's own client (kmip.pie.client.ProxyKmipClient)
and print what each step returned, as JSON, with server-chosen identifiers
replaced by placeholders ("uid1", "uid2", ...) so two servers can be compared.

usage: pykmip_scenario.py HOST PORT CERT KEY CA [FOREIGN_CERT FOREIGN_KEY]
"""
import json
import sys

from kmip import enums
from kmip.core.factories import attributes as attribute_factory
from kmip.pie import objects
from kmip.pie.client import ProxyKmipClient

host, port, cert, key, ca = sys.argv[1:6]
foreign = sys.argv[6:8]
uids = {}
out = []


def norm(text):
    for uid, label in sorted(uids.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(uid, label)
    return text


def label(uid):
    uids.setdefault(uid, "uid%d" % (len(uids) + 1))
    return uids[uid]


def step(name, fn):
    try:
        out.append([name, "ok", fn()])
    except Exception as e:  # record failures as data: they are part of the comparison
        reason = getattr(e, "reason", None)
        out.append([name, "error", type(e).__name__, str(reason), norm(str(getattr(e, "message", e)))])


def client(c, k):
    return ProxyKmipClient(hostname=host, port=int(port), cert=c, key=k, ca=ca,
                           ssl_version="PROTOCOL_TLSv1_2", config_file="/dev/null")


def show_attrs(res):
    uid, attrs = res
    shown = {}
    for a in attrs:
        v = a.attribute_value
        if hasattr(v, "name_value"):
            v = v.name_value.value
        elif hasattr(v, "value"):
            v = v.value
        if hasattr(v, "name"):
            v = v.name
        if a.attribute_name.value in ("Initial Date", "Activation Date", "Deactivation Date", "Last Change Date"):
            v = "<date>"
        shown[a.attribute_name.value] = str(v)
    return [label(uid), shown]


def show_obj(o):
    d = {"type": type(o).__name__, "value": o.value.hex()}
    if hasattr(o, "cryptographic_algorithm"):
        d["algorithm"] = o.cryptographic_algorithm.name
        d["length"] = o.cryptographic_length
    if hasattr(o, "data_type"):
        d["data_type"] = o.data_type.name
    return d


af = attribute_factory.AttributeFactory()
names = ["State", "Name", "Cryptographic Algorithm", "Cryptographic Length", "Object Type"]
with client(cert, key) as c:
    state = {}
    step("create", lambda: label(state.setdefault("k", c.create(enums.CryptographicAlgorithm.AES, 256, name="interop-key"))))
    step("get created: type/alg/len", lambda: (lambda o: [type(o).__name__, o.cryptographic_algorithm.name, o.cryptographic_length, len(o.value)])(c.get(state["k"])))
    step("get_attributes", lambda: show_attrs(c.get_attributes(state["k"], names)))
    sym = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, bytes(range(16)), name="interop-reg")
    step("register symmetric", lambda: label(state.setdefault("r", c.register(sym))))
    step("get registered symmetric", lambda: show_obj(c.get(state["r"])))
    sd = objects.SecretData(b"correct horse battery staple", enums.SecretDataType.PASSWORD, name="interop-pass")
    step("register secret data", lambda: label(state.setdefault("s", c.register(sd))))
    step("get secret data", lambda: show_obj(c.get(state["s"])))
    step("get_attributes secret data", lambda: show_attrs(c.get_attributes(state["s"], ["State", "Name", "Object Type"])))
    name_attr = af.create_attribute(enums.AttributeType.NAME, "interop-key")
    step("locate by name", lambda: [label(u) for u in c.locate(attributes=[name_attr])])
    step("locate all (as a set)", lambda: sorted(label(u) for u in c.locate()))
    step("locate maximum_items=2", lambda: len(c.locate(maximum_items=2)))
    step("activate", lambda: c.activate(state["k"]))
    step("state after activate", lambda: show_attrs(c.get_attributes(state["k"], ["State"])))
    step("activate again", lambda: c.activate(state["k"]))
    step("destroy active", lambda: c.destroy(state["k"]))
    step("revoke pre-active (cessation)", lambda: c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, state["r"]))
    step("revoke active (cessation)", lambda: c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, state["k"]))
    step("state after revoke", lambda: show_attrs(c.get_attributes(state["k"], ["State"])))
    step("destroy deactivated", lambda: c.destroy(state["k"]))
    step("get destroyed", lambda: c.get(state["k"]))
    step("get unknown", lambda: c.get("no-such-object-4242"))
    step("create AES-200", lambda: c.create(enums.CryptographicAlgorithm.AES, 200))
    if foreign:
        with client(*foreign) as other:
            step("foreign get", lambda: other.get(state["r"]))
            step("foreign destroy", lambda: other.destroy(state["r"]))
            step("foreign locate", lambda: [label(u) for u in other.locate()])
    step("destroy pre-active symmetric", lambda: c.destroy(state["r"]))
    step("destroy secret data", lambda: c.destroy(state["s"]))
    step("locate all after destroys", lambda: sorted(label(u) for u in c.locate()))

print(json.dumps(out, indent=1))
