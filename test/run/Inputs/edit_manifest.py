"""Edits a copied package's manifest.json the way a careless or hostile hand
might: edit_manifest.py MANIFEST vocab N | state-shape I D0,D1,... |
drop-last-state | eos N"""
import json
import sys

path, what = sys.argv[1], sys.argv[2]
m = json.load(open(path))
if what == "vocab":
    m["model"]["vocab_size"] = int(sys.argv[3])
elif what == "state-shape":
    m["state"][int(sys.argv[3])]["shape"] = [
        d if d in ("batch", "seq") else int(d) for d in sys.argv[4].split(",")]
elif what == "drop-last-state":
    m["state"].pop()
elif what == "eos":
    m["model"]["eos_token_ids"] = [int(sys.argv[3])]
else:
    sys.exit("unknown edit " + what)
json.dump(m, open(path, "w"), indent=2)
