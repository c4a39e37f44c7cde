"""openapi_validate.py — check a JSON value against a schema of docs/openapi.json (OpenAPI
3.0: $ref, type + nullable, enum, required, properties, additionalProperties, items,
oneOf/anyOf/allOf, minimum/maximum, minItems, minLength, minProperties, pattern).
Strict on objects: a key the schema does not declare is an error unless the schema says
additionalProperties, so a field a handler returns but the spec lacks is caught too.
Used by tests/cli/serve_schemas.sh; no third-party validator."""
import re

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


class Spec:
    def __init__(self, spec):
        self.spec = spec

    def ref(self, r):
        node = self.spec
        for part in r.lstrip("#/").split("/"):
            node = node[part]
        return node

    def deref(self, s):
        while isinstance(s, dict) and "$ref" in s:
            s = self.ref(s["$ref"])
        return s

    def response_schema(self, path, method, status, ctype="application/json"):
        """The schema of (path, method, status), or None with the reason."""
        op = self.spec["paths"][path][method.lower()]
        resp = op["responses"].get(str(status)) or op["responses"].get("default")
        if resp is None:
            return None, "status %s is not declared for %s %s" % (status, method, path)
        resp = self.deref(resp)
        content = resp.get("content", {})
        if ctype not in content:
            return None, "%s %s %s declares no %s body" % (method, path, status, ctype)
        return content[ctype]["schema"], None

    def errors(self, value, schema, where="$"):
        s = self.deref(schema)
        out = []
        if value is None:
            if s.get("nullable") or not s:
                return out
            if any(self.deref(x).get("nullable") for x in s.get("oneOf", []) + s.get("anyOf", [])):
                return out
            return ["%s: null, but the schema is not nullable" % where]
        for sub in s.get("allOf", []):
            out += self.errors(value, sub, where)
        if "oneOf" in s or "anyOf" in s:
            alts = s.get("oneOf") or s.get("anyOf")
            ok = [a for a in alts if not self.errors(value, a, where)]
            if "oneOf" in s and len(ok) != 1 or not ok:
                out.append("%s: %d of the %s alternatives match %r" %
                           (where, len(ok), "oneOf" if "oneOf" in s else "anyOf", value))
        t = s.get("type")
        if t:
            if t == "integer":
                good = isinstance(value, int) and not isinstance(value, bool)
            elif t == "number":
                good = isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                good = isinstance(value, TYPES[t]) and not (t != "boolean" and isinstance(value, bool))
            if not good:
                return out + ["%s: %r is not of type %s" % (where, value, t)]
        if "enum" in s and value not in s["enum"]:
            out.append("%s: %r not in the enum %r" % (where, value, s["enum"]))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in s and value < s["minimum"]:
                out.append("%s: %r < minimum %r" % (where, value, s["minimum"]))
            if "maximum" in s and value > s["maximum"]:
                out.append("%s: %r > maximum %r" % (where, value, s["maximum"]))
        if isinstance(value, str):
            if len(value) < s.get("minLength", 0):
                out.append("%s: shorter than minLength" % where)
            if "pattern" in s and not re.search(s["pattern"], value):
                out.append("%s: %r does not match %r" % (where, value, s["pattern"]))
        if isinstance(value, list):
            if len(value) < s.get("minItems", 0):
                out.append("%s: fewer than minItems" % where)
            if "items" in s:
                for i, v in enumerate(value):
                    out += self.errors(v, s["items"], "%s[%d]" % (where, i))
        if isinstance(value, dict):
            props = s.get("properties", {})
            for k in s.get("required", []):
                if k not in value:
                    out.append("%s: required key %r missing" % (where, k))
            if len(value) < s.get("minProperties", 0):
                out.append("%s: fewer than minProperties" % where)
            extra = s.get("additionalProperties", False if (props or s.get("required")) else True)
            # under allOf the keys of the other parts are declared too
            declared = set(props)
            for sub in s.get("allOf", []):
                declared |= set(self.deref(sub).get("properties", {}))
            for k, v in value.items():
                if k in props:
                    out += self.errors(v, props[k], "%s.%s" % (where, k))
                elif k in declared:
                    continue
                elif extra is False and not s.get("allOf") and "oneOf" not in s and "anyOf" not in s:
                    out.append("%s: key %r is not in the schema" % (where, k))
                elif isinstance(extra, dict):
                    out += self.errors(v, extra, "%s.%s" % (where, k))
        return out
