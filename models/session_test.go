package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

func startSession(t *testing.T, s *models.Store, u *models.User, at time.Time) *models.UserSession {
	t.Helper()
	rec, err := s.StartSession(context.Background(), u, models.SessionStart{Method: models.SessionByPassword, IP: "198.51.100.7", UserAgent: "Firefox/121.0"}, at)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestSessionLookupAndExpiry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	rec := startSession(t, w.store, w.alice, now)
	u, got, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID, now)
	if err != nil || u.ID != w.alice.ID || got.ID != rec.ID || got.IP != "198.51.100.7" {
		t.Fatalf("lookup: %+v %+v %v", u, got, err)
	}
	bob := mustUser(t, w.store, "bob@globex.test")
	for name, lookup := range map[string]func() error{
		"another user's id": func() error { _, _, err := w.store.UserBySession(ctx, bob.ID, rec.ID, now); return err },
		"idle past its lifetime": func() error {
			_, _, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID, now.Add(models.SessionIdleLifetime+time.Second))
			return err
		},
		"unknown": func() error { _, _, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID+100, now); return err },
	} {
		if err := lookup(); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	// Activity is written at most every few minutes, which keeps it alive.
	if err := w.store.NoteSessionSeen(ctx, got, "198.51.100.8", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, again, _ := w.store.UserBySession(ctx, w.alice.ID, rec.ID, now); again.IP != "198.51.100.7" {
		t.Fatalf("written within the resolution: %+v", again)
	}
	later := now.Add(models.SessionIdleLifetime - time.Minute)
	if err := w.store.NoteSessionSeen(ctx, got, "198.51.100.8", later); err != nil {
		t.Fatal(err)
	}
	if _, again, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID, later.Add(time.Hour)); err != nil || again.IP != "198.51.100.8" {
		t.Fatalf("after activity: %+v %v", again, err)
	}
	// However busy, a session ends at its absolute lifetime.
	for at := later; at.Before(now.Add(models.SessionLifetime)); at = at.Add(models.SessionIdleLifetime - time.Minute) {
		if err := w.store.NoteSessionSeen(ctx, got, "198.51.100.8", at); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID, now.Add(models.SessionLifetime-time.Minute)); err != nil {
		t.Fatalf("busy, within its lifetime: err = %v", err)
	}
	if _, _, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID, now.Add(models.SessionLifetime+time.Second)); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("busy, past its lifetime: err = %v, want ErrNotFound", err)
	}
	// Ending every session (a password reset) ends this one.
	if err := w.store.EndAllSessions(ctx, w.alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.store.UserBySession(ctx, w.alice.ID, rec.ID, later); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("after EndAllSessions: err = %v", err)
	}
}

func TestEndSessionAndOthers(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	bob := mustUser(t, w.store, "bob@globex.test")
	one, two, three := startSession(t, w.store, w.alice, now), startSession(t, w.store, w.alice, now), startSession(t, w.store, w.alice, now)
	bobs := startSession(t, w.store, bob, now)
	if err := w.store.EndSession(ctx, w.alice.ID, bobs.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("ending another user's session: err = %v", err)
	}
	if err := w.store.EndSession(ctx, w.alice.ID, one.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.store.EndSession(ctx, w.alice.ID, one.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("ending it twice: err = %v", err)
	}
	list, err := w.store.SessionsOf(ctx, w.alice.ID, now)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	// A password change raises the version; the browser that made it keeps
	// its session, the others end.
	if err := w.store.EndAllSessions(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	alice, err := w.store.UserByID(ctx, w.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	alice.SessionVersion++
	if err := w.store.DBForTest(ctx).Model(alice).Update("session_version", alice.SessionVersion).Error; err != nil {
		t.Fatal(err)
	}
	if list, _ := w.store.SessionsOf(ctx, w.alice.ID, now); len(list) != 0 {
		t.Fatalf("sessions of an older version still listed: %+v", list)
	}
	ended, err := w.store.EndOtherSessions(ctx, alice, three.ID)
	if err != nil || ended != 1 {
		t.Fatalf("end others: %d, %v", ended, err)
	}
	if list, _ := w.store.SessionsOf(ctx, w.alice.ID, now); len(list) != 1 || list[0].ID != three.ID {
		t.Fatalf("after ending the others: %+v", list)
	}
	if _, _, err := w.store.UserBySession(ctx, w.alice.ID, two.ID, now); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("an ended session still counts: %v", err)
	}
}

func TestStartSessionBoundsWhatItKeeps(t *testing.T) {
	w := newWorld(t)
	rec, err := w.store.StartSession(context.Background(), w.alice, models.SessionStart{
		IP: strings.Repeat("9", 100), UserAgent: strings.Repeat("é", 400) + "\x00\n",
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.IP) > 45 || len(rec.UserAgent) > 512 || strings.ContainsAny(rec.UserAgent, "\x00\n") || rec.Method != models.SessionByPassword {
		t.Fatalf("kept %d bytes of IP, %d of User-Agent, method %q", len(rec.IP), len(rec.UserAgent), rec.Method)
	}
}
