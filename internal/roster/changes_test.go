package roster_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"presencebridge/internal/roster"
	"presencebridge/internal/store"
)

// audited is the tenant's audit entries, oldest first, as "actor action".
func audited(t *testing.T, st *store.Store, tenant uuid.UUID) []store.AuditEntry {
	t.Helper()
	es, err := st.AuditLog(context.Background(), tenant, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

func TestEachRosterChangeCommitsWithItsAuditEntryNamingTheActorAndARefusedOneWithNeither(t *testing.T) {
	ctx := context.Background()
	r, st, ten := newRoster(t)
	const actor = "apikey:0b8f3c1e"
	entries := []roster.Entry{{UPN: "alex@contoso.example"}, {UPN: "sam@contoso.example"}}
	if res, err := r.Add(ctx, ten, actor, entries); err != nil || res.Added != 2 {
		t.Fatalf("add: %+v %v", res, err)
	}
	if res, err := r.Replace(ctx, ten, actor, []roster.Entry{{UPN: "sam@contoso.example"}}, store.SourceCSV); err != nil || res.Removed != 1 {
		t.Fatalf("replace: %+v %v", res, err)
	}
	if u, err := r.RemoveUser(ctx, ten, actor, "SAM@contoso.example"); err != nil || u.UPN != "sam@contoso.example" {
		t.Fatalf("remove: %+v %v", u, err)
	}
	if _, err := r.RemoveUser(ctx, ten, actor, "nobody@contoso.example"); !errors.Is(err, store.ErrUserNotFound) {
		t.Fatalf("removing nobody: %v", err)
	}
	group := uuid.New()
	if src, err := r.SetSource(ctx, ten, actor, &group); err != nil || src.Kind != store.SourceGroup || *src.GroupID != group {
		t.Fatalf("set source: %+v %v", src, err)
	}
	if _, err := r.Add(ctx, ten, actor, entries); !errors.Is(err, roster.ErrGroupRoster) {
		t.Fatalf("adding to a group roster: %v", err)
	}
	if src, err := r.SetSource(ctx, ten, actor, nil); err != nil || src.Kind != store.SourceList {
		t.Fatalf("back to a list: %+v %v", src, err)
	}

	want := []struct {
		action string
		detail map[string]any
	}{
		{"users.upserted", map[string]any{"entries": 2.0, "added": 2.0}},
		{"roster.replaced", map[string]any{"source": store.SourceCSV, "entries": 1.0, "removed": 1.0}},
		{"user.removed", map[string]any{"upn": "sam@contoso.example"}},
		{"roster_source.updated", map[string]any{"kind": store.SourceGroup, "groupId": group.String()}},
		{"roster_source.updated", map[string]any{"kind": store.SourceList, "groupId": nil}},
	}
	got := audited(t, st, ten)
	if len(got) != len(want) {
		t.Fatalf("%d audit entries, want %d (one for each change made, none for a refused one): %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Action != w.action || got[i].Actor != actor {
			t.Errorf("entry %d is %s by %s, want %s by %s", i, got[i].Action, got[i].Actor, w.action, actor)
		}
		for k, v := range w.detail {
			if got[i].Detail[k] != v {
				t.Errorf("%s: %s is %v, want %v", w.action, k, got[i].Detail[k], v)
			}
		}
	}
	if rows := statuses(t, st, ten); len(rows) != 0 {
		t.Errorf("the roster refused on a group still changed: %v", rows)
	}
}
