package models_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm/schema"

	"canopy/models"
)

// TestLoadFrame: the request frame reads what the separate lookups read —
// the host's lineage, the user with their session record, their membership —
// on both dialects, and on PostgreSQL in the transaction it begins.
func TestLoadFrame(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	rec := startSession(t, w.store, w.alice, now)
	ended := startSession(t, w.store, w.alice, now)
	if err := w.store.EndSession(ctx, w.alice.ID, ended.ID); err != nil {
		t.Fatal(err)
	}
	wantLineage, err := w.store.LineageBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	wantUser, wantSession, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	wantMembership, err := w.store.MembershipOf(ctx, w.acme.ID, w.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	toggle, err := w.store.CompanyToggle(ctx, w.alice.ID, w.acme.ID)
	if err != nil || len(toggle.Companies) == 0 {
		t.Fatalf("toggle %+v, %v", toggle, err)
	}
	aliceScope := models.Scope{TenantID: w.acme.ID, Subtree: true, UserID: w.alice.ID}
	cases := []struct {
		name                      string
		q                         models.FrameQuery
		lineage, user, membership bool
	}{
		{"member at their company", models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID, SessionID: rec.ID, Scope: aliceScope}, true, true, true},
		{"member at their company, with the toggle", models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID, SessionID: rec.ID, Scope: aliceScope, Toggle: true}, true, true, true},
		{"the base domain, with the toggle", models.FrameQuery{UserID: w.alice.ID, SessionID: rec.ID, Scope: models.Scope{UserID: w.alice.ID}, Toggle: true}, false, true, false},
		{"the subdomain in capitals", models.FrameQuery{Subdomain: "ACME", UserID: w.alice.ID, SessionID: rec.ID, Scope: aliceScope}, true, true, true},
		{"a wrong guess of the tenant", models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID, SessionID: rec.ID,
			Scope: models.Scope{TenantID: w.platform.ID, UserID: w.alice.ID}}, true, true, true},
		{"no guess of the tenant", models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID, SessionID: rec.ID,
			Scope: models.Scope{UserID: w.alice.ID}}, true, true, true},
		{"the base domain", models.FrameQuery{UserID: w.alice.ID, SessionID: rec.ID, Scope: models.Scope{UserID: w.alice.ID}}, false, true, false},
		{"an unknown subdomain", models.FrameQuery{Subdomain: "nobody", UserID: w.alice.ID, SessionID: rec.ID, Scope: models.Scope{UserID: w.alice.ID}}, false, true, false},
		{"signed out", models.FrameQuery{Subdomain: "acme"}, true, false, false},
		{"an ended session", models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID, SessionID: ended.ID, Scope: aliceScope}, true, false, false},
		{"another user's session", models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID + 1000, SessionID: rec.ID,
			Scope: models.Scope{UserID: w.alice.ID + 1000}}, true, false, false},
		{"a session idle past its lifetime", models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID, SessionID: rec.ID, Scope: aliceScope,
			Now: now.Add(models.SessionIdleLifetime + time.Minute)}, true, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Now.IsZero() {
				tc.q.Now = now
			}
			var frame *models.Frame
			err := w.store.Request(ctx, func(ctx context.Context) error {
				var err error
				_, frame, err = w.store.LoadFrame(ctx, tc.q)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(frame.Lineage) > 0; got != tc.lineage {
				t.Fatalf("lineage %v, want one: %v", frame.Lineage, tc.lineage)
			}
			if tc.lineage && !reflect.DeepEqual(frame.Lineage, wantLineage) {
				t.Errorf("lineage\n got %+v\nwant %+v", frame.Lineage, wantLineage)
			}
			if got := frame.User != nil; got != tc.user {
				t.Fatalf("user %+v, want one: %v", frame.User, tc.user)
			}
			if tc.user && (!reflect.DeepEqual(frame.User, wantUser) || !sameSession(*frame.Session, *wantSession)) {
				t.Errorf("user and session\n got %+v %+v\nwant %+v %+v", frame.User, frame.Session, wantUser, wantSession)
			}
			if got := frame.Membership != nil; got != tc.membership {
				t.Fatalf("membership %+v, want one: %v", frame.Membership, tc.membership)
			}
			if tc.membership && !reflect.DeepEqual(frame.Membership, wantMembership) {
				t.Errorf("membership\n got %+v\nwant %+v", frame.Membership, wantMembership)
			}
			if wantToggle := tc.q.Toggle && tc.membership; (frame.Toggle != nil) != wantToggle {
				t.Fatalf("toggle %+v, want one: %v", frame.Toggle, wantToggle)
			}
			if frame.Toggle != nil && !sameToggle(*frame.Toggle, toggle) {
				t.Errorf("toggle\n got %+v\nwant %+v", *frame.Toggle, toggle)
			}
		})
	}
}

// TestRequestBegunWithFrame: the transaction the frame begins holds the
// request's writes until it commits, and takes them all back when the
// request fails or panics; its connection goes back to the pool either way.
func TestRequestBegunWithFrame(t *testing.T) {
	w, q := aliceSignedInAtAcme(t)
	ctx := context.Background()
	write := func(ctx context.Context, name string) error {
		ctx, frame, err := w.store.LoadFrame(ctx, q)
		if err != nil {
			return err
		}
		if frame.Membership == nil {
			return errors.New("no membership in the frame")
		}
		_, err = w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: name, Model: "Frame test"})
		return err
	}
	failed := errors.New("the handler failed")
	if err := w.store.Request(ctx, func(ctx context.Context) error { return write(ctx, "FRAME-KEPT") }); err != nil {
		t.Fatal(err)
	}
	if err := w.store.Request(ctx, func(ctx context.Context) error {
		if err := write(ctx, "FRAME-FAILED"); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("err = %v, want the handler's", err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = w.store.Request(ctx, func(ctx context.Context) error {
			if err := write(ctx, "FRAME-PANICKED"); err != nil {
				return err
			}
			panic("the handler panicked")
		})
	}()
	for name, want := range map[string]bool{"FRAME-KEPT": true, "FRAME-FAILED": false, "FRAME-PANICKED": false} {
		page, err := w.store.ListDevices(ctx, w.acme.ID, name, models.PageRequest{Number: 1, Size: 25})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(page.Items) == 1; got != want {
			t.Errorf("%s: found %v, want %v", name, got, want)
		}
	}
	if in := w.store.OpenConnectionsInUseForTest(); in != 0 {
		t.Errorf("%d connections still in use after the requests", in)
	}
}

// sameSession compares session records but for the User-Agent, which the
// frame reads on PostgreSQL only.
func sameSession(a, b models.UserSession) bool {
	a.UserAgent, b.UserAgent = "", ""
	return reflect.DeepEqual(a, b)
}

// TestFrameRowsNameEveryColumn: the request frame reads its rows as JSON
// keyed by column, into these models by their json tags, so each field GORM
// maps to a column must carry that column's name, or it would silently
// stay empty on PostgreSQL.
func TestFrameRowsNameEveryColumn(t *testing.T) {
	for _, model := range []any{&models.Tenant{}, &models.User{}, &models.UserSession{}, &models.Membership{}} {
		sch, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range sch.Fields {
			if field.DBName == "" {
				continue
			}
			if tag, _, _ := strings.Cut(field.Tag.Get("json"), ","); tag != field.DBName {
				t.Errorf("%s.%s: json tag %q, want the column's name %q", sch.Name, field.Name, tag, field.DBName)
			}
		}
	}
}

// sameToggle compares toggles, an empty list of companies however made.
func sameToggle(a, b models.Toggle) bool {
	if len(a.Companies) == 0 && len(b.Companies) == 0 {
		a.Companies, b.Companies = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// TestToggleFunctionIsToggleSQL: on PostgreSQL the toggle is the function
// canopy_company_toggle, which the request frame reads; SQLite runs the
// query it is written from. Both must give the same toggle, whoever asks
// and whichever company is shown first.
func TestToggleFunctionIsToggleSQL(t *testing.T) {
	w := newWorld(t)
	if w.store.Dialect() != models.Postgres {
		t.Skip("the function is PostgreSQL's")
	}
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@globex.test")
	globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.AddMember(ctx, globex.ID, w.alice.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		user, currentID int64
	}{
		{"an owner at her company", w.alice.ID, w.acme.ID},
		{"a member elsewhere first", w.alice.ID, globex.ID},
		{"no company first", w.alice.ID, 0},
		{"another person", bob.ID, globex.ID},
	} {
		byFunction, err := w.store.CompanyToggle(ctx, tc.user, tc.currentID)
		if err != nil {
			t.Fatal(err)
		}
		bySQL, err := w.store.ToggleBySQLForTest(ctx, tc.user, tc.currentID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameToggle(byFunction, bySQL) || len(bySQL.Companies) == 0 {
			t.Errorf("%s:\nfunction %+v\n   query %+v", tc.name, byFunction, bySQL)
		}
	}
}

// TestRequestReportsACommitThatRolledBack: a statement that fails and whose
// caller goes on (a handler that logs a lookup's error and renders without
// it) leaves the transaction failed, and PostgreSQL answers its COMMIT by
// rolling back. The request must say so, however its transaction began,
// or its page would announce writes that did not land.
func TestRequestReportsACommitThatRolledBack(t *testing.T) {
	w, q := aliceSignedInAtAcme(t)
	ctx := context.Background()
	for name, begin := range map[string]func(ctx context.Context) (context.Context, error){
		"BEGIN-WITH-FRAME": func(ctx context.Context) (context.Context, error) {
			ctx, _, err := w.store.LoadFrame(ctx, q)
			return ctx, err
		},
		"BEGIN-ALONE": func(ctx context.Context) (context.Context, error) { return w.store.SetScope(ctx, q.Scope) },
	} {
		err := w.store.Request(ctx, func(ctx context.Context) error {
			ctx, err := begin(ctx)
			if err != nil {
				return err
			}
			if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: name, Model: "Commit test"}); err != nil {
				return err
			}
			_ = w.store.ExecForTest(ctx, "SELECT 1/0") // logged and gone past
			return nil
		})
		if err == nil {
			t.Errorf("%s: the request reported success", name)
		}
		page, lerr := w.store.ListDevices(ctx, w.acme.ID, name, models.PageRequest{Number: 1, Size: 25})
		if lerr != nil || len(page.Items) != 0 {
			t.Errorf("%s: %d devices kept (%v)", name, len(page.Items), lerr)
		}
	}
	if in := w.store.OpenConnectionsInUseForTest(); in != 0 {
		t.Errorf("%d connections still in use after the requests", in)
	}
}

// aliceSignedInAtAcme is a world on PostgreSQL, where a request is one
// transaction (skipped on SQLite, where it runs as it is), with Alice
// signed in and the frame of her request to Acme.
func aliceSignedInAtAcme(t *testing.T) (world, models.FrameQuery) {
	t.Helper()
	w := newWorld(t)
	if w.store.Dialect() != models.Postgres {
		t.Skip("a request is one transaction on PostgreSQL; on SQLite it runs as it is")
	}
	now := time.Now()
	rec := startSession(t, w.store, w.alice, now)
	return w, models.FrameQuery{Subdomain: "acme", UserID: w.alice.ID, SessionID: rec.ID,
		Scope: models.Scope{TenantID: w.acme.ID, Subtree: true, UserID: w.alice.ID}, Now: now}
}
