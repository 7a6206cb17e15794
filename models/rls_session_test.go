package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/models"
)

// Session records behind the database wall: a request scoped as one person
// reads, changes and ends only that person's sessions; the sweep of idle
// ones goes through the owner's function.
func TestRLSSessionsAreTheirUsersOwn(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	var table struct{ RowSecurity, Forced bool }
	w.owner.Raw("SELECT relrowsecurity AS row_security, relforcerowsecurity AS forced FROM pg_class WHERE oid = 'user_sessions'::regclass").Scan(&table)
	if !table.RowSecurity || !table.Forced {
		t.Fatalf("user_sessions: %+v, want row-level security enabled and forced", table)
	}
	aliceID, daveID := w.userID(t, "alice@acme.test"), w.userID(t, "dave@acme.test")
	alice, dave := models.Scope{UserID: aliceID}, models.Scope{TenantID: w.tenant["acme"], UserID: daveID}
	start := func(scope models.Scope, id int64) int64 {
		var rec *models.UserSession
		err := w.within(scope, func(ctx context.Context, tx *models.Store) error {
			var err error
			rec, err = tx.StartSession(ctx, &models.User{ID: id, SessionVersion: 1}, models.SessionStart{IP: "192.0.2.1"}, time.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	alices, daves := start(alice, aliceID), start(dave, daveID)
	// Nobody starts a session for someone else.
	err := w.within(dave, func(ctx context.Context, tx *models.Store) error {
		_, err := tx.StartSession(ctx, &models.User{ID: aliceID, SessionVersion: 1}, models.SessionStart{}, time.Now())
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("dave starting alice's session: err = %v", err)
	}
	// Dave, even as a member of alice's company, sees only his own.
	w.as(t, dave, func(db *gorm.DB) error {
		var ids []int64
		if err := db.Raw("SELECT id FROM user_sessions").Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) != 1 || ids[0] != daves {
			t.Errorf("dave sees sessions %v, want only %d", ids, daves)
		}
		return nil
	})
	for _, sql := range []string{
		"UPDATE user_sessions SET last_seen_at = now() WHERE id = ?",
		"UPDATE user_sessions SET user_id = user_id WHERE id = ?",
		"DELETE FROM user_sessions WHERE id = ?",
	} {
		if rows, err := w.try(dave, sql, alices); err != nil || rows != 0 {
			t.Errorf("%s as dave: %d rows, err %v", sql, rows, err)
		}
	}
	if rows, err := w.try(dave, "UPDATE user_sessions SET user_id = ? WHERE id = ?", aliceID, daves); err == nil || rows != 0 {
		t.Errorf("dave giving his session to alice: %d rows, err %v", rows, err)
	}
	err = w.within(dave, func(ctx context.Context, tx *models.Store) error { return tx.EndSession(ctx, aliceID, alices) })
	if !errors.Is(err, models.ErrNotFound) {
		t.Errorf("dave ending alice's session: err = %v, want ErrNotFound", err)
	}
	err = w.within(alice, func(ctx context.Context, tx *models.Store) error {
		_, _, err := tx.UserBySession(ctx, aliceID, alices, time.Now())
		return err
	})
	if err != nil {
		t.Fatalf("alice's own lookup: %v", err)
	}
	// No scope sees nothing.
	if rows, _ := w.try(models.Scope{}, "DELETE FROM user_sessions"); rows != 0 {
		t.Errorf("no scope deleted %d sessions", rows)
	}
	// The sweep forgets only idle sessions, whoever's.
	if err := w.owner.Exec("UPDATE user_sessions SET last_seen_at = now() - interval '8 days' WHERE id = ?", daves).Error; err != nil {
		t.Fatal(err)
	}
	if swept, err := w.app.SweepSessions(ctx); err != nil || swept != 1 {
		t.Fatalf("sweep: %d, %v; want dave's idle one", swept, err)
	}
	var left []int64
	w.owner.Raw("SELECT id FROM user_sessions ORDER BY id").Scan(&left)
	if len(left) != 1 || left[0] != alices {
		t.Fatalf("after the sweep: %v, want alice's alone", left)
	}
}
