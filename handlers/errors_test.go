package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"canopy/models"
)

// TestModelErrorPages: every refusal of the data layer reads as its own
// page, however deeply it is wrapped, and an error that wraps another is not
// shadowed by it; anything else is a server error.
func TestModelErrorPages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err     error
		status  int
		heading string
	}{
		{models.ErrInvitationUnknown, http.StatusNotFound, "This invitation link is not valid"},
		{models.ErrNotFound, http.StatusNotFound, "Page not found"},
		{models.ErrInvitationExpired, http.StatusGone, "This invitation has expired"},
		{models.ErrInvitationUsed, http.StatusGone, "This invitation has already been answered"},
		{models.ErrInvitationRevoked, http.StatusGone, "This invitation was withdrawn"},
		{models.ErrInvitationNotPending, http.StatusConflict, "That invitation was already answered"},
		{models.ErrOwnerIsFixed, http.StatusForbidden, "That change is not allowed"},
		{models.ErrSelf, http.StatusForbidden, "That change is not allowed"},
		{models.ErrNotAllowed, http.StatusForbidden, "That change is not allowed"},
		{models.ErrNotOwner, http.StatusForbidden, "Only the owner can transfer ownership"},
		{models.ErrOwnsAnother, http.StatusConflict, "That person already owns a company"},
		{models.ErrDeviceDeprovisioned, http.StatusConflict, "That device is already deprovisioned"},
		{models.ErrOwnerCannotLeave, http.StatusForbidden, "The owner cannot leave"},
		{models.ErrChangedMeanwhile, http.StatusConflict, "Someone else changed this at the same moment"},
		{models.ErrOwnerNotSuperAdmin, http.StatusConflict, "That change is not allowed"},
		{models.ErrTryAgain, http.StatusServiceUnavailable, "Canopy was busy with another change"},
		{models.ErrTemplateInUse, http.StatusConflict, "That template cannot be deleted"},
		{models.ErrInvalidStatus, http.StatusUnprocessableEntity, "Unknown status"},
		{models.ErrImmutableField, http.StatusUnprocessableEntity, "These details cannot be changed"},
		{models.ErrBadCredentials, http.StatusUnauthorized, "The email or password is not correct"},
		{models.ErrHandoffUsed, http.StatusBadRequest, "This sign-in link was already used"},
		{models.ErrNoTenant, http.StatusInternalServerError, "Something went wrong on our side"},
		{errors.New("disk full"), http.StatusInternalServerError, "Something went wrong on our side"},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("load something: %w", c.err)
			page, ok := pageFor(wrapped)
			if page.status != c.status || page.heading != c.heading || page.message == "" {
				t.Fatalf("page %d %q (%q), want %d %q", page.status, page.heading, page.message, c.status, c.heading)
			}
			// Every refusal has its page; only what no row names (a server
			// error) is unknown, though a refusal may answer 5xx itself (503:
			// try again).
			if unknown := c.heading == "Something went wrong on our side"; ok == unknown {
				t.Fatalf("ok = %v: only server errors are unknown", ok)
			}
			if got := statusOf(wrapped); got != c.status {
				t.Fatalf("statusOf = %d, want %d", got, c.status)
			}
		})
	}
}
