package ovirtfake

import (
	"net/http"
	"strings"

	"github.com/changedblocks/sdk/extent"
)

// imageio serves /images/{ticket}[/extents] as ovirt-imageio does.
func (f *Fake) imageio(w http.ResponseWriter, r *http.Request, rest string) {
	if f.Imageio5xx > 0 {
		f.Imageio5xx--
		http.Error(w, "Internal server error", http.StatusServiceUnavailable)
		return
	}
	ticket, sub, _ := strings.Cut(rest, "/")
	t := f.tickets[ticket]
	if t == nil {
		http.Error(w, "You are not allowed to access this resource: No such ticket "+ticket, http.StatusForbidden)
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodOptions:
		w.Header().Set("Allow", "OPTIONS,GET")
		reply(w, http.StatusOK, map[string]any{"features": []string{"checksum", "extents"}, "max_readers": 8, "max_writers": 8})
	case sub == "extents" && r.Method == http.MethodGet:
		c := r.URL.Query().Get("context")
		if c == "" {
			c = "zero"
		}
		switch c {
		case "zero":
			reply(w, http.StatusOK, f.extentsJSON(t, t.data, false))
		case "dirty":
			if !t.dirty {
				http.Error(w, "Ticket does not support dirty extents", http.StatusNotFound)
				return
			}
			reply(w, http.StatusOK, f.extentsJSON(t, t.backup.dirty, true))
		default:
			http.Error(w, "Invalid context: "+c, http.StatusBadRequest)
		}
	default:
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}

// extentsJSON lists the whole image as contiguous items, set where marked.
func (f *Fake) extentsJSON(t *fakeTransfer, marked []extent.Extent, dirty bool) []map[string]any {
	capacity := t.vm.capacity
	if f.ShortExtents {
		capacity--
	}
	var out []map[string]any
	item := func(start, length int64, set bool) {
		if length <= 0 {
			return
		}
		m := map[string]any{"start": start, "length": length}
		switch {
		case dirty:
			m["dirty"] = set
			if !f.OldImageio {
				m["zero"] = false
			}
		case !f.OldImageio:
			m["zero"], m["hole"] = !set, false
		default:
			if !set {
				m["zero"] = true
			} else {
				m["zero"] = false
			}
		}
		out = append(out, m)
	}
	pos := int64(0)
	for _, e := range marked {
		if e.Offset >= capacity {
			break
		}
		item(pos, e.Offset-pos, false)
		end := min(e.End(), capacity)
		item(e.Offset, end-e.Offset, true)
		pos = end
	}
	item(pos, capacity-pos, false)
	if out == nil {
		out = []map[string]any{}
	}
	return out
}
