package models_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"canopy/models"
)

// totpSecret is a fixed authenticator secret for the tests (base 32).
const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// codeAt is what an authenticator app shows at t.
func codeAt(t *testing.T, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(totpSecret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// hashes are ten distinct stand-ins for recovery codes' keyed hashes.
func hashes(prefix string) []string {
	out := make([]string, models.RecoveryCodeCount)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// turnOnTOTP sets up and confirms the fixed secret for u at the store's present.
func turnOnTOTP(t *testing.T, store *models.Store, u *models.User, now time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := store.StartTOTP(ctx, u.ID, "sealed-"+totpSecret); err != nil {
		t.Fatal(err)
	}
	err := store.ConfirmTOTP(ctx, models.TOTPConfirmation{UserID: u.ID, Sealed: "sealed-" + totpSecret, Secret: totpSecret,
		Code: codeAt(t, now), RecoveryHashes: hashes("first")})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTOTPCodesWorkOnceWithinTheirWindow: with the store's clock fixed, a
// code of the present step works once; the same code again, or a code of
// an earlier step, is refused as used; the next step's code works; a code
// one step off either way is accepted (skew), two steps off is not.
func TestTOTPCodesWorkOnceWithinTheirWindow(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 10, 0, time.UTC)
	w.store.SetNowForTest(func() time.Time { return now })
	turnOnTOTP(t, w.store, w.alice, now)

	step := 30 * time.Second
	use := func(code string) error { return w.store.UseTOTPCode(ctx, w.alice.ID, totpSecret, code) }

	// The confirming code's step counts as used already.
	if err := use(codeAt(t, now)); !errors.Is(err, models.ErrTOTPCodeUsed) {
		t.Fatalf("the code that confirmed the app: %v, want ErrTOTPCodeUsed", err)
	}
	now = now.Add(step)
	code := codeAt(t, now)
	if err := use(code); err != nil {
		t.Fatalf("the next step's code: %v", err)
	}
	if err := use(code); !errors.Is(err, models.ErrTOTPCodeUsed) {
		t.Fatalf("the same code again: %v, want ErrTOTPCodeUsed", err)
	}
	if err := use(codeAt(t, now.Add(-step))); !errors.Is(err, models.ErrTOTPCodeUsed) {
		t.Fatalf("an earlier step's code after a later one: %v, want ErrTOTPCodeUsed", err)
	}
	// Skew: the phone is a step ahead.
	if err := use(codeAt(t, now.Add(step))); err != nil {
		t.Fatalf("a code one step ahead: %v", err)
	}
	// A step behind, with nothing used since.
	now = now.Add(3 * step)
	if err := use(codeAt(t, now.Add(-step))); err != nil {
		t.Fatalf("a code one step behind: %v", err)
	}
	for name, code := range map[string]string{
		"two steps ahead": codeAt(t, now.Add(2*step)), "too short": "12345", "letters": "abcdef", "empty": "",
	} {
		if err := use(code); !errors.Is(err, models.ErrTOTPCodeWrong) {
			t.Errorf("%s (%q): %v, want ErrTOTPCodeWrong", name, code, err)
		}
	}
	// Spaces and a hyphen typed inside a code are not part of it.
	now = now.Add(2 * step)
	c := codeAt(t, now)
	if err := use(c[:3] + " " + c[3:]); err != nil {
		t.Fatalf("a code typed with a space: %v", err)
	}
}

// TestConfirmTOTP: a wrong first code leaves the app off; the right one
// turns it on with the recovery codes and the two-factor flag; a setup
// started again meanwhile is not confirmed with the old secret; a
// confirmed app cannot be started over.
func TestConfirmTOTP(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	w.store.SetNowForTest(func() time.Time { return now })
	if err := w.store.StartTOTP(ctx, w.alice.ID, "sealed-1"); err != nil {
		t.Fatal(err)
	}
	confirm := func(sealed, code string) error {
		return w.store.ConfirmTOTP(ctx, models.TOTPConfirmation{UserID: w.alice.ID, Sealed: sealed, Secret: totpSecret, Code: code, RecoveryHashes: hashes("a")})
	}
	if err := confirm("sealed-1", codeAt(t, now.Add(-5*time.Minute))); !errors.Is(err, models.ErrTOTPCodeWrong) {
		t.Fatalf("a wrong first code: %v", err)
	}
	if st := status(t, w.store, w.alice.ID); st.TOTPOn || !st.TOTPPending || st.On() {
		t.Fatalf("after a wrong code: %+v, want pending", st)
	}
	// Another window started again: the first secret no longer confirms.
	if err := w.store.StartTOTP(ctx, w.alice.ID, "sealed-2"); err != nil {
		t.Fatal(err)
	}
	if err := confirm("sealed-1", codeAt(t, now)); !errors.Is(err, models.ErrTOTPSetupChanged) {
		t.Fatalf("confirming a replaced secret: %v, want ErrTOTPSetupChanged", err)
	}
	if err := confirm("sealed-2", codeAt(t, now)); err != nil {
		t.Fatal(err)
	}
	st := status(t, w.store, w.alice.ID)
	if !st.TOTPOn || st.TOTPPending || st.CodesLeft != models.RecoveryCodeCount {
		t.Fatalf("after confirming: %+v", st)
	}
	if u, _ := w.store.UserByID(ctx, w.alice.ID); !u.TwoFactorEnabled {
		t.Fatal("users.two_factor_enabled not set")
	}
	if err := w.store.StartTOTP(ctx, w.alice.ID, "sealed-3"); !errors.Is(err, models.ErrTOTPAlreadyOn) {
		t.Fatalf("starting over a confirmed app: %v, want ErrTOTPAlreadyOn", err)
	}
}

// TestRecoveryCodeWorksOnce: a code is spent once, says how many are
// left, and new codes replace every old one.
func TestRecoveryCodeWorksOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	turnOnTOTP(t, w.store, w.alice, now)
	left, err := w.store.UseRecoveryCode(ctx, w.alice.ID, "first-3")
	if err != nil || left != models.RecoveryCodeCount-1 {
		t.Fatalf("first use: %d left, %v", left, err)
	}
	if _, err := w.store.UseRecoveryCode(ctx, w.alice.ID, "first-3"); !errors.Is(err, models.ErrRecoveryCodeWrong) {
		t.Fatalf("second use: %v, want ErrRecoveryCodeWrong", err)
	}
	bob := mustUser(t, w.store, "bob@acme.test")
	if _, err := w.store.UseRecoveryCode(ctx, bob.ID, "first-4"); !errors.Is(err, models.ErrRecoveryCodeWrong) {
		t.Fatalf("alice's code for bob: %v, want ErrRecoveryCodeWrong", err)
	}
	if err := w.store.ReplaceRecoveryCodes(ctx, w.alice.ID, hashes("second")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.UseRecoveryCode(ctx, w.alice.ID, "first-4"); !errors.Is(err, models.ErrRecoveryCodeWrong) {
		t.Fatalf("an old code after new ones: %v, want ErrRecoveryCodeWrong", err)
	}
	if st := status(t, w.store, w.alice.ID); st.CodesLeft != models.RecoveryCodeCount {
		t.Fatalf("after new codes: %d left", st.CodesLeft)
	}
}

// TestDisableTOTPRefreshesTwoFactor: turning the app off clears the flag
// and the recovery codes when no passkey remains; with a passkey, both stay.
func TestDisableTOTPRefreshesTwoFactor(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	turnOnTOTP(t, w.store, w.alice, time.Now())
	if on, err := w.store.DisableTOTP(ctx, w.alice.ID); err != nil || on {
		t.Fatalf("DisableTOTP = %v, %v; want off", on, err)
	}
	u, _ := w.store.UserByID(ctx, w.alice.ID)
	if st := status(t, w.store, w.alice.ID); u.TwoFactorEnabled || st.On() || st.CodesLeft != 0 || st.TOTPPending {
		t.Fatalf("after turning off: flag %v, %+v", u.TwoFactorEnabled, st)
	}
	if _, err := w.store.DisableTOTP(ctx, w.alice.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("turning off again: %v, want ErrNotFound", err)
	}
	// A setup begun and not finished is no app to turn off.
	if err := w.store.StartTOTP(ctx, w.alice.ID, "sealed-pending"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.DisableTOTP(ctx, w.alice.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("turning off a setup not finished: %v, want ErrNotFound", err)
	}
	if st := status(t, w.store, w.alice.ID); !st.TOTPPending {
		t.Fatal("the unfinished setup was removed")
	}

	turnOnTOTP(t, w.store, w.alice, time.Now())
	if err := w.store.DBForTest(ctx).Exec("INSERT INTO user_passkeys (user_id, credential_id, public_key, name) VALUES (?, ?, ?, 'Laptop')",
		w.alice.ID, []byte{1}, []byte{2}).Error; err != nil {
		t.Fatal(err)
	}
	if on, err := w.store.DisableTOTP(ctx, w.alice.ID); err != nil || !on {
		t.Fatalf("DisableTOTP with a passkey = %v, %v; want still on", on, err)
	}
	u, _ = w.store.UserByID(ctx, w.alice.ID)
	if st := status(t, w.store, w.alice.ID); !u.TwoFactorEnabled || st.CodesLeft != models.RecoveryCodeCount || st.Passkeys != 1 {
		t.Fatalf("with a passkey left: flag %v, %+v", u.TwoFactorEnabled, st)
	}
}

// TestRequireTwoFactorIsAuditedAndCounted: the company's rule is saved
// and audited once per change, and the members without a second factor
// are counted and listed.
func TestRequireTwoFactorIsAuditedAndCounted(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, on := range []bool{true, true, false} {
		if err := w.store.SetRequireTwoFactor(ctx, w.acme.ID, on); err != nil {
			t.Fatal(err)
		}
	}
	if events := auditEvents(t, w.store, w.acme.ID, models.AuditSettingsSaved); len(events) != 2 {
		t.Fatalf("%d settings events, want 2 (a change each)", len(events))
	}
	if n, err := w.store.MembersWithoutTwoFactor(ctx, w.acme.ID); err != nil || n != 1 {
		t.Fatalf("without two-factor: %d, %v; want alice", n, err)
	}
	turnOnTOTP(t, w.store, w.alice, time.Now())
	if n, _ := w.store.MembersWithoutTwoFactor(ctx, w.acme.ID); n != 0 {
		t.Fatalf("without two-factor after alice set it up: %d", n)
	}
	page, err := w.store.TeamFiltered(ctx, w.acme.ID, models.TeamFilter{WithoutTwoFactor: true}, models.ParsePage("", 10))
	if err != nil || page.Total != 0 || len(page.Items) != 0 {
		t.Fatalf("filtered team: %+v, %v", page, err)
	}
	page, _ = w.store.Team(ctx, w.acme.ID, "", models.ParsePage("", 10))
	if len(page.Items) != 1 || !page.Items[0].TwoFactor {
		t.Fatalf("team: %+v, want alice with two-factor", page.Items)
	}
}

func status(t *testing.T, store *models.Store, userID int64) models.TwoFactorStatus {
	t.Helper()
	st, err := store.TwoFactorStatusOf(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// FuzzNormalizeTOTPCode: whatever is typed, the code checked has no
// spaces, dashes or tabs, normalizing twice changes nothing, and a code
// typed with separators is the code without them.
func FuzzNormalizeTOTPCode(f *testing.F) {
	for _, seed := range []string{"123456", "123 456", " 123-456\t", "", "１２３４５６", "12\x0034"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		code := models.NormalizeTOTPCode(typed)
		if strings.ContainsAny(code, " -\t") {
			t.Fatalf("%q normalized to %q, which keeps a separator", typed, code)
		}
		if again := models.NormalizeTOTPCode(code); again != code {
			t.Fatalf("normalizing %q again gave %q", code, again)
		}
		if spaced := strings.Join(strings.Split(code, ""), " "); models.NormalizeTOTPCode(spaced) != code {
			t.Fatalf("%q with spaces normalized to %q", code, models.NormalizeTOTPCode(spaced))
		}
	})
}
