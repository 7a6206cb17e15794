package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"canopy/models"
)

func TestCreateUserValidation(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name  string
		in    models.NewUser
		field string
	}{
		{"taken email in another case", models.NewUser{Email: "ALICE@acme.test", FirstName: "A", Password: "long-enough-pw"}, "email"},
		{"bad email", models.NewUser{Email: "alice", FirstName: "A", Password: "long-enough-pw"}, "email"},
		{"short password", models.NewUser{Email: "new@acme.test", FirstName: "A", Password: "short"}, "password"},
		{"no first name", models.NewUser{Email: "new@acme.test", Password: "long-enough-pw"}, "first_name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := w.store.CreateUser(context.Background(), c.in); fieldError(err, c.field) == "" {
				t.Fatalf("err = %v, want a message for %s", err, c.field)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	models.UseProductionPasswordCost(t) // the cost the server hashes with
	w := newWorld(t)
	ctx := context.Background()
	u, err := w.store.Authenticate(ctx, "  Alice@ACME.test ", "a-long-password")
	if err != nil || u.ID != w.alice.ID {
		t.Fatalf("right password refused: %v", err)
	}
	for _, c := range []struct{ email, password string }{
		{"alice@acme.test", "wrong-password"},
		{"nobody@acme.test", "a-long-password"},
		{"", ""},
	} {
		if _, err := w.store.Authenticate(ctx, c.email, c.password); !errors.Is(err, models.ErrBadCredentials) {
			t.Errorf("%q/%q: err = %v, want ErrBadCredentials", c.email, c.password, err)
		}
	}
	if hash := w.store.PasswordHashForTest(ctx, u.ID); !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash does not use OWASP's argon2id minimum: %s", hash)
	}
}

func TestWeakHashUpgradedAtSignIn(t *testing.T) {
	models.UseProductionPasswordCost(t)
	w := newWorld(t)
	ctx := context.Background()
	weak, err := argon2id.CreateHash("a-long-password", &argon2id.Params{Memory: 4096, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExecForTest(ctx, "UPDATE user_passwords SET hash = ? WHERE user_id = ?", weak, w.alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.Authenticate(ctx, "alice@acme.test", "a-long-password"); err != nil {
		t.Fatal(err)
	}
	if hash := w.store.PasswordHashForTest(ctx, w.alice.ID); hash == weak || !strings.Contains(hash, "m=19456,t=2") {
		t.Fatalf("weak hash not upgraded: %s", hash)
	}
}

func TestEndAllSessionsBumpsVersion(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.store.EndAllSessions(ctx, w.alice.ID); err != nil {
		t.Fatal(err)
	}
	u, _ := w.store.UserByID(ctx, w.alice.ID)
	if u.SessionVersion != w.alice.SessionVersion+1 {
		t.Fatalf("session version %d, want %d", u.SessionVersion, w.alice.SessionVersion+1)
	}
}

func TestLandingTenant(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// alice owns Acme and is also a member of Beta and Zeta.
	carol := mustUser(t, w.store, "carol@x.test")
	dan := mustUser(t, w.store, "dan@x.test")
	beta, _ := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Beta", Subdomain: "beta", Timezone: "UTC", OwnerUserID: carol.ID})
	zeta, _ := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Zeta", Subdomain: "zeta", Timezone: "UTC", OwnerUserID: dan.ID})
	for _, tn := range []*models.Tenant{beta, zeta} {
		if _, err := w.store.AddMember(ctx, tn.ID, w.alice.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	landing := func() string {
		u, _ := w.store.UserByID(ctx, w.alice.ID)
		tn, err := w.store.LandingTenant(ctx, u)
		if err != nil {
			return err.Error()
		}
		return tn.Subdomain
	}
	if got := landing(); got != "acme" {
		t.Fatalf("no last company: landed in %s, want the owned acme", got)
	}
	if _, err := w.store.EnterTenant(ctx, w.alice.ID, zeta.ID); err != nil {
		t.Fatal(err)
	}
	if got := landing(); got != "zeta" {
		t.Fatalf("landed in %s, want last company zeta", got)
	}
	_ = w.store.SetTenantStatus(ctx, zeta.ID, models.TenantInactive)
	_ = w.store.SetTenantStatus(ctx, w.acme.ID, models.TenantInactive)
	if got := landing(); got != "beta" {
		t.Fatalf("landed in %s, want beta (others inactive)", got)
	}
	_ = w.store.SetTenantStatus(ctx, beta.ID, models.TenantInactive)
	if got := landing(); !strings.Contains(got, "not found") {
		t.Fatalf("no active company: got %s, want not found", got)
	}
	if _, err := w.store.AddMember(ctx, beta.ID, w.alice.ID, models.RoleAdmin); fieldError(err, "email") == "" {
		t.Fatalf("second membership: err = %v", err)
	}
}

func TestEnterTenantTellsWhetherTheUserWasThereBefore(t *testing.T) {
	w := newWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: "alice@acme.test"})
	bob := mustUser(t, w.store, "bob@x.test")
	for i, want := range []bool{false, true} {
		before, err := w.store.EnterTenant(ctx, w.alice.ID, w.acme.ID)
		if err != nil || before != want {
			t.Fatalf("entry %d: entered before %v (%v), want %v", i+1, before, err, want)
		}
		if err := w.store.Audit(ctx, w.acme.ID, models.AuditCompanyEntered, models.AuditTarget{Type: "tenant", ID: w.acme.ID}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := w.store.UserByID(ctx, w.alice.ID); u.LastTenantID == nil || *u.LastTenantID != w.acme.ID {
		t.Fatal("the last company was not remembered")
	}
	// Alice's visits are hers: bob's first entry is a first one, and so is
	// hers into another company.
	if before, err := w.store.EnterTenant(ctx, bob.ID, w.acme.ID); err != nil || before {
		t.Fatalf("bob's first entry: %v (%v)", before, err)
	}
	if before, err := w.store.EnterTenant(ctx, w.alice.ID, w.platform.ID); err != nil || before {
		t.Fatalf("alice's first entry into the platform: %v (%v)", before, err)
	}
}

func TestInactiveCompaniesOf(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	frank := mustUser(t, w.store, "frank@x.test")
	lab, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.acme.ID, Name: "Acme Lab", Subdomain: "acme-lab", Timezone: "UTC", OwnerUserID: frank.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := w.store.InactiveCompaniesOf(ctx, frank.ID); err != nil || len(got) != 0 {
		t.Fatalf("while Acme Lab is active: %v %v", got, err)
	}
	if err := w.store.SetTenantStatus(ctx, lab.ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	got, err := w.store.InactiveCompaniesOf(ctx, frank.ID)
	if err != nil || len(got) != 1 || got[0].Name != "Acme Lab" || got[0].ParentName != "Acme Corp" {
		t.Fatalf("inactive companies of frank: %+v %v", got, err)
	}
	// Someone else's inactive companies are not theirs.
	if got, err := w.store.InactiveCompaniesOf(ctx, w.alice.ID); err != nil || len(got) != 0 {
		t.Fatalf("alice, a member of no inactive company: %v %v", got, err)
	}
}

func TestRedeemHandoffOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	if err := w.store.RedeemHandoff(ctx, "token-1", exp); err != nil {
		t.Fatal(err)
	}
	if err := w.store.RedeemHandoff(ctx, "token-1", exp); !errors.Is(err, models.ErrHandoffUsed) {
		t.Fatalf("second redemption: err = %v, want ErrHandoffUsed", err)
	}
	if err := w.store.RedeemHandoff(ctx, "token-2", exp); err != nil {
		t.Fatal(err)
	}
	if err := w.store.RedeemHandoff(ctx, "token-old", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	swept, err := w.store.SweepHandoffs(ctx)
	if err != nil || swept != 1 {
		t.Fatalf("sweep: %d swept, err %v; want only the expired token", swept, err)
	}
	if err := w.store.RedeemHandoff(ctx, "token-1", exp); !errors.Is(err, models.ErrHandoffUsed) {
		t.Fatalf("after the sweep a live token was redeemable again: err = %v", err)
	}
	// The database itself keeps a live token's redemption, whoever asks.
	for _, sql := range []string{
		"DELETE FROM handoff_redemptions WHERE token_id = 'token-1'",
		"UPDATE handoff_redemptions SET token_id = 'token-3' WHERE token_id = 'token-1'",
	} {
		if err := w.store.ExecForTest(ctx, sql); err == nil || !strings.Contains(err.Error(), "insert-only") {
			t.Errorf("%s: err = %v, want the insert-only trigger", sql, err)
		}
	}
	if err := w.store.RedeemHandoff(ctx, "token-1", exp); !errors.Is(err, models.ErrHandoffUsed) {
		t.Fatalf("a live token was redeemable again: err = %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	const current = "a-long-password" // mustUser's
	cases := []struct {
		name  string
		in    models.PasswordChange
		field string // "" when the change must succeed
		want  string // part of the message beside field
	}{
		{"changed", models.PasswordChange{Current: current, New: "a-brand-new-secret", Confirm: "a-brand-new-secret"}, "", ""},
		{"wrong current password", models.PasswordChange{Current: "not-the-password", New: "a-brand-new-secret", Confirm: "a-brand-new-secret"}, "current_password", "not correct"},
		{"no current password", models.PasswordChange{New: "a-brand-new-secret", Confirm: "a-brand-new-secret"}, "current_password", "Enter your current password"},
		{"too short", models.PasswordChange{Current: current, New: "short", Confirm: "short"}, "new_password", "at least 10"},
		{"too long", models.PasswordChange{Current: current, New: strings.Repeat("x", 257), Confirm: strings.Repeat("x", 257)}, "new_password", "at most 256"},
		{"no new password", models.PasswordChange{Current: current}, "new_password", "Enter a new password"},
		{"same as the current one", models.PasswordChange{Current: current, New: current, Confirm: current}, "new_password", "different"},
		{"confirmation missing", models.PasswordChange{Current: current, New: "a-brand-new-secret"}, "confirm_password", "again"},
		{"confirmation differs", models.PasswordChange{Current: current, New: "a-brand-new-secret", Confirm: "a-brand-new-secreT"}, "confirm_password", "do not match"},
		// Everything wrong at once is reported at once.
		{"wrong current and mismatch", models.PasswordChange{Current: "not-the-password", New: "a-brand-new-secret", Confirm: "other"}, "confirm_password", "do not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.field == "" {
				models.UseProductionPasswordCost(t) // the new hash is the server's
			}
			w := newWorld(t)
			ctx := context.Background()
			before, _ := w.store.UserByID(ctx, w.alice.ID)
			hashBefore := w.store.PasswordHashForTest(ctx, w.alice.ID)
			u, err := w.store.ChangePassword(ctx, w.alice.ID, c.in)
			after, _ := w.store.UserByID(ctx, w.alice.ID)
			hashAfter := w.store.PasswordHashForTest(ctx, w.alice.ID)
			if c.field != "" {
				if msg := fieldError(err, c.field); !strings.Contains(msg, c.want) {
					t.Fatalf("err = %v, want %q beside %s", err, c.want, c.field)
				}
				if hashAfter != hashBefore || after.SessionVersion != before.SessionVersion {
					t.Fatal("a refused change changed the password or ended the sessions")
				}
				if _, err := w.store.Authenticate(ctx, "alice@acme.test", current); err != nil {
					t.Fatalf("the current password stopped working: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.SessionVersion != before.SessionVersion+1 || after.SessionVersion != u.SessionVersion {
				t.Fatalf("session version %d (stored %d), want %d: other sessions not ended", u.SessionVersion, after.SessionVersion, before.SessionVersion+1)
			}
			if !strings.HasPrefix(hashAfter, "$argon2id$v=19$m=19456,t=2,p=1$") {
				t.Fatalf("new hash is not today's argon2id: %s", hashAfter)
			}
			if _, err := w.store.Authenticate(ctx, "alice@acme.test", current); !errors.Is(err, models.ErrBadCredentials) {
				t.Fatalf("old password still works: %v", err)
			}
			if _, err := w.store.Authenticate(ctx, "alice@acme.test", c.in.New); err != nil {
				t.Fatalf("new password refused: %v", err)
			}
		})
	}
}

func TestChangePasswordReportsEveryFieldAtOnce(t *testing.T) {
	w := newWorld(t)
	_, err := w.store.ChangePassword(context.Background(), w.alice.ID, models.PasswordChange{Current: "not-the-password", New: "short", Confirm: "short"})
	if fieldError(err, "current_password") == "" || fieldError(err, "new_password") == "" {
		t.Fatalf("err = %v, want messages beside both the current and the new password", err)
	}
}

// A second change (another tab's form) needs the password the first one set.
func TestChangePasswordTwiceNeedsTheNewPassword(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	in := models.PasswordChange{Current: "a-long-password", New: "first-new-secret", Confirm: "first-new-secret"}
	if _, err := w.store.ChangePassword(ctx, w.alice.ID, in); err != nil {
		t.Fatal(err)
	}
	in.New, in.Confirm = "second-new-secret", "second-new-secret"
	if _, err := w.store.ChangePassword(ctx, w.alice.ID, in); fieldError(err, "current_password") == "" {
		t.Fatalf("err = %v, want the old current password refused", err)
	}
	if _, err := w.store.Authenticate(ctx, "alice@acme.test", "first-new-secret"); err != nil {
		t.Fatal(err)
	}
}
