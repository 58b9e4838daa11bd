package api

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"presencebridge/templates"
	"presencebridge/web"
)

// docs serves the API reference at /api/v1/docs, rendered on the server
// from the same OpenAPI document /api/v1/openapi.json serves (huma's own
// renderers load scripts from a CDN, which a deployment may not reach and
// our Content-Security-Policy forbids).
func docs(api huma.API) http.HandlerFunc {
	var once sync.Once
	var page []byte
	var err error
	return func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			var buf bytes.Buffer
			err = templates.APIReference(reference(api.OpenAPI())).Render(r.Context(), &buf)
			page = buf.Bytes()
		})
		if err != nil {
			web.Problem(w, http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError), "The reference could not be rendered.")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}
}

// reference is the page's view of the document.
func reference(doc *huma.OpenAPI) templates.APIDocs {
	d := templates.APIDocs{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description, SpecURL: "/api/v1/openapi.json"}
	groups := map[string][]templates.APIOperation{}
	var order []string
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	resolve := func(s *huma.Schema) *huma.Schema {
		if s != nil && s.Ref != "" {
			return doc.Components.Schemas.SchemaFromRef(s.Ref)
		}
		return s
	}
	for _, p := range paths {
		item := doc.Paths[p]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil {
				continue
			}
			o := templates.APIOperation{ID: m.op.OperationID, Method: m.method, Path: p, Summary: m.op.Summary,
				Description: m.op.Description, Scope: requiredScope(m.op)}
			for _, prm := range m.op.Parameters {
				o.Parameters = append(o.Parameters, templates.APIField{Name: prm.Name, In: prm.In, Type: typeOf(prm.Schema, resolve),
					Description: prm.Description, Required: prm.Required})
			}
			if rb := m.op.RequestBody; rb != nil {
				if mt := rb.Content["application/json"]; mt != nil {
					o.Request = fields("", resolve(mt.Schema), resolve, 0)
				}
			}
			statuses := make([]string, 0, len(m.op.Responses))
			for s := range m.op.Responses {
				statuses = append(statuses, s)
			}
			sort.Strings(statuses)
			for _, s := range statuses {
				resp := m.op.Responses[s]
				out := templates.APIResponse{Status: s, Description: resp.Description}
				if strings.HasPrefix(s, "2") {
					if mt := resp.Content["application/json"]; mt != nil {
						out.Fields = fields("", resolve(mt.Schema), resolve, 0)
					}
				} else if strings.HasPrefix(s, "4") || strings.HasPrefix(s, "5") {
					out.Description += " (problem+json: type, title, status, detail, errors)"
				}
				o.Responses = append(o.Responses, out)
			}
			tag := "Other"
			if len(m.op.Tags) > 0 {
				tag = m.op.Tags[0]
			}
			if _, ok := groups[tag]; !ok {
				order = append(order, tag)
			}
			groups[tag] = append(groups[tag], o)
		}
	}
	for _, t := range order {
		d.Groups = append(d.Groups, templates.APIGroup{Name: t, Operations: groups[t]})
	}
	return d
}

// fields lists an object's properties, nested objects' as a.b, two levels
// deep.
func fields(prefix string, s *huma.Schema, resolve func(*huma.Schema) *huma.Schema, depth int) []templates.APIField {
	if s == nil || len(s.Properties) == 0 {
		return nil
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []templates.APIField
	for _, n := range names {
		p := resolve(s.Properties[n])
		out = append(out, templates.APIField{Name: prefix + n, Type: typeOf(p, resolve), Description: p.Description,
			Required: slices.Contains(s.Required, n)})
		if depth < 2 {
			inner := p
			if p.Type == "array" {
				inner = resolve(p.Items)
				out = append(out, fields(prefix+n+"[].", inner, resolve, depth+1)...)
				continue
			}
			out = append(out, fields(prefix+n+".", inner, resolve, depth+1)...)
		}
	}
	return out
}

// typeOf names a schema's type for people: "string (uuid)", "array of
// string: a | b".
func typeOf(s *huma.Schema, resolve func(*huma.Schema) *huma.Schema) string {
	s = resolve(s)
	if s == nil {
		return ""
	}
	t := s.Type
	if t == "array" && s.Items != nil {
		return "array of " + typeOf(s.Items, resolve)
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		t += ": " + strings.Join(vals, " | ")
	}
	return t
}
