package models

import (
	"errors"
	"fmt"
	"strings"
)

// The errors the data layer answers with when it refuses something. Each is
// a rule of the product, and the handlers show each as one page (or one
// message) of its own, so callers compare with errors.Is and never with text.
var (
	// ErrNotFound: no such record, or none the caller may see. Another
	// tenant's record is not found rather than forbidden, so that ids say
	// nothing about what exists elsewhere.
	ErrNotFound = errors.New("not found")
	// ErrNoTenant: a tenant-owned query was asked for without a tenant. A
	// zero tenant id is a bug in the caller, never an unscoped query.
	ErrNoTenant = errors.New("no tenant in scope: refusing an unscoped query")
	// ErrImmutableField: a tenant's name, subdomain, description and
	// contact email are fixed when it is created.
	ErrImmutableField = errors.New("name, subdomain, description and contact email cannot be changed after creation")
	// ErrInvalidStatus: a tenant is either active or inactive.
	ErrInvalidStatus = errors.New("unknown tenant status")

	// ErrBadCredentials is the single answer for an unknown email, a wrong
	// password or an account that cannot sign in, so none can be told apart.
	ErrBadCredentials = errors.New("the email or password is not correct")
	// ErrHandoffUsed: a hand-off token between subdomains works once.
	ErrHandoffUsed = errors.New("this sign-in link was already used")

	// ErrNotAllowed: nobody acts on someone above their own role, and only
	// Super Admins grant or revoke Super Admin.
	ErrNotAllowed = errors.New("your role does not allow this")
	// ErrSelf: members do not re-role or remove themselves from the Team page.
	ErrSelf = errors.New("you cannot change your own role or remove yourself here")
	// ErrOwnerIsFixed: a tenant's owner cannot be removed or demoted;
	// ownership is transferred instead.
	ErrOwnerIsFixed = errors.New("the owner of a company cannot be removed or demoted; transfer ownership first")
	// ErrOwnerCannotLeave: a company's owner stays a member of it; they
	// transfer ownership to another member first, then may leave.
	ErrOwnerCannotLeave = errors.New("the owner of a company cannot leave it; transfer ownership first")
	// ErrNotOwner: only a tenant's current owner transfers its ownership.
	ErrNotOwner = errors.New("only the owner can transfer ownership")
	// ErrOwnsAnother: each person owns at most one tenant.
	ErrOwnsAnother = errors.New("this person already owns a company, and each person can own only one")
	// ErrChangedMeanwhile: what a change decided on (a member, their role,
	// the company's owner) was changed by someone else at the same moment,
	// so nothing was changed; the page shows it afresh.
	ErrChangedMeanwhile = errors.New("someone else changed this at the same moment; nothing was changed")
	// ErrOwnerNotSuperAdmin: a company's owner is always its member with the
	// Super Admin role. The database refuses to commit anything else, so
	// this arrives only when a change slipped past the store's own checks.
	ErrOwnerNotSuperAdmin = errors.New("the owner of a company must be its member with the Super Admin role")
	// ErrTryAgain: the database chose this request to give way to another
	// made at the same moment (a deadlock or a serialization failure), even
	// when it ran a second time. Nothing was changed.
	ErrTryAgain = errors.New("the database was busy with a change made at the same moment; nothing was changed")

	// ErrInvitationUnknown: no open invitation has this link (mistyped, or
	// replaced by a newer one). It is a kind of ErrNotFound.
	ErrInvitationUnknown = fmt.Errorf("invitation link: %w", ErrNotFound)
	// ErrInvitationExpired: invitation links work for InvitationTTL.
	ErrInvitationExpired = errors.New("this invitation has expired")
	// ErrInvitationUsed: the invitee answered this invitation already.
	ErrInvitationUsed = errors.New("this invitation has already been answered")
	// ErrInvitationRevoked: the company withdrew the invitation.
	ErrInvitationRevoked = errors.New("this invitation was withdrawn")
	// ErrInvitationNotPending: an administrator acts on an invitation that
	// was accepted, declined or revoked in the meantime.
	ErrInvitationNotPending = errors.New("the invitation is no longer pending")

	// ErrTemplateInUse: a template stays while orders were made from it (each
	// order keeps its template) or while it is the only template someone
	// may order from (without it they could order from every template).
	// DeleteTemplate answers with a *TemplateInUseError, which says how many.
	ErrTemplateInUse = errors.New("the template is in use and cannot be deleted")

	// ErrAPIKeyRevoked: a key that was revoked, or whose roll's grace ran
	// out, cannot be revoked or rolled again.
	ErrAPIKeyRevoked = errors.New("this API key no longer works")
	// ErrAPIKeyRolled: a key is rolled once; its replacement is rolled next.
	ErrAPIKeyRolled = errors.New("this API key was already rolled; roll its replacement instead")
	// ErrOrderTransition: an order moves pending → in progress → completed,
	// or from pending or in progress to cancelled; completed and cancelled
	// are final.
	ErrOrderTransition = errors.New("the order cannot move to that status from where it is")

	// ErrDefaultPlan: the default billing plan cannot be archived; make
	// another the default first.
	ErrDefaultPlan = errors.New("the default plan cannot be archived; make another plan the default first")

	// ErrDeviceDeprovisioned: deprovisioning a device is final.
	ErrDeviceDeprovisioned = errors.New("the device is already deprovisioned; deprovisioning is final")
)

// Errors of the server's set-up rather than of a person's request: no page
// shows them.
var (
	// ErrScopeKeyMismatch is why a server stops when the database does not
	// verify its scopes (Store.CheckScopeKey).
	ErrScopeKeyMismatch = errors.New("the database does not accept this server's signed scope: " +
		"its key differs from the one derived from CANOPY_SESSION_KEY, or none was written; " +
		"start with DATABASE_OWNER_URL set (or run canopy migrate with it) and the same CANOPY_SESSION_KEY")
	// errDetachedInTx refuses detached work started from a transaction's
	// store, which has no pool of its own to detach to (Store.Detached).
	errDetachedInTx = errors.New("detached work must start from the server's store, not a transaction's")
)

// FieldErrors maps a form field to the message shown beside it. It is an
// error so validation failures travel the ordinary error path.
type FieldErrors map[string]string //nolint:errname // a form's messages by field name: the map is named for what it holds

func (fe FieldErrors) Error() string {
	parts := make([]string, 0, len(fe))
	for field, msg := range fe {
		parts = append(parts, field+": "+msg)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Err returns fe as an error, or nil when there is nothing wrong.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}
