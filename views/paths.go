package views

import (
	"strconv"
	"strings"
)

// The addresses pages link to and handlers redirect to, named once so that
// a link cannot drift from the others. handlers/handlers.go registers the
// routes behind them, with Echo's :id patterns.
const (
	TeamPath            = "/settings/team"
	NewMemberPath       = TeamPath + "/new"
	CompanySettingsPath = "/settings/company"
	AuditPath           = "/settings/audit"
	AuditCSVPath        = AuditPath + ".csv"
	SSOSettingsPath     = "/settings/sso"
	SSOInheritPath      = SSOSettingsPath + "/inherit"
	SSOTestPath         = SSOSettingsPath + "/test"
	SSODeletePath       = SSOSettingsPath + "/delete"
	SubTenantsPath      = "/sub-tenants"
	NewSubTenantPath    = SubTenantsPath + "/new"
	SubdomainCheckPath  = SubTenantsPath + "/subdomain-check"
	DevicesPath         = "/devices"
	OrdersPath          = "/orders"
	NewOrderPath        = OrdersPath + "/new"
	TemplatesPath       = "/templates"
	NewTemplatePath     = TemplatesPath + "/new"
	CompaniesPath       = "/companies"
	SSODomainsPath      = "/sso-domains" // platform staff's list of domains waiting for them
)

// Developers: a company's API keys and its production access, and platform
// staff's answers to requests for it.
const (
	APIKeysPath          = "/developers/api-keys"
	NewAPIKeyPath        = APIKeysPath + "/new"
	ProductionAccessPath = "/developers/production-access" // the request form
	AccessRequestsPath   = "/access-requests"              // platform staff's list of requests
)

// Developers → Webhooks: a company's endpoints, each with its delivery log.
const (
	WebhooksPath          = "/developers/webhooks"
	NewWebhookPath        = WebhooksPath + "/new"
	WebhookDeliveriesPath = WebhooksPath + "/deliveries"
)

// Billing plans: platform staff's price lists.
const (
	PlansPath   = "/plans"
	NewPlanPath = PlansPath + "/new"
)

// PlanPath is a plan's page, or an action on it: PlanPath(7) is
// "/plans/7", PlanPath(7, "archive") posts there.
func PlanPath(id int64, action ...string) string { return itemPath(PlansPath, id, action...) }

// DuplicatePlanPath is the New plan form filled in with a plan's details:
// the way to offer the same plan at other prices.
func DuplicatePlanPath(id int64) string { return NewPlanPath + "?from=" + strconv.FormatInt(id, 10) }

// WebhookPath is an endpoint's page, or an action on it:
// WebhookPath(7) is "/developers/webhooks/7", WebhookPath(7, "rotate") posts there.
func WebhookPath(id int64, action ...string) string {
	return strings.Join(append([]string{WebhooksPath, strconv.FormatInt(id, 10)}, action...), "/")
}

// WebhookDeliveryPath is a delivery's page, or an action on it:
// WebhookDeliveryPath(9, "replay").
func WebhookDeliveryPath(id int64, action ...string) string {
	return strings.Join(append([]string{WebhookDeliveriesPath, strconv.FormatInt(id, 10)}, action...), "/")
}

// APIKeyPath is an action on a company's API key: APIKeyPath(7, "revoke").
func APIKeyPath(id int64, action string) string { return itemPath(APIKeysPath, id, action) }

// AccessRequestPath is platform staff's decision on a request for
// production access: AccessRequestPath(7, "approve"), (7, "decline").
func AccessRequestPath(id int64, action string) string {
	return itemPath(AccessRequestsPath, id, action)
}

// SSOCallbackPath is where an identity provider sends people back after
// they signed in, on the company's own address: the redirect URI its IT
// team registers with the provider.
const SSOCallbackPath = "/auth/sso/callback"

// MemberPath is an action on a member of the team: MemberPath(7, "remove")
// is "/settings/team/members/7/remove".
func MemberPath(id int64, action string) string {
	return itemPath(TeamPath+"/members", id, action)
}

// CompanyPath is the signed-in person's action on a company they belong
// to: CompanyPath(7, "leave") is "/companies/7/leave".
func CompanyPath(id int64, action string) string {
	return itemPath(CompaniesPath, id, action)
}

// InvitationPath is an action on an invitation to the team.
func InvitationPath(id int64, action string) string {
	return itemPath(TeamPath+"/invitations", id, action)
}

// InvitationLinkPath is the page an emailed invitation link opens, on the
// base domain: InvitationLinkPath(token, "accept") is where it is accepted.
func InvitationLinkPath(token string, action ...string) string {
	return strings.Join(append([]string{"/invitations", token}, action...), "/")
}

// SubTenantPath is a sub-tenant's details page, or what lies below it:
// SubTenantPath(7) is "/sub-tenants/7", SubTenantPath(7, "users", "new") is
// "/sub-tenants/7/users/new".
func SubTenantPath(id int64, below ...string) string {
	return itemPath(SubTenantsPath, id, below...)
}

// SubTenantInvitationPath is an action on an invitation to a sub-tenant.
func SubTenantInvitationPath(tenantID, invitationID int64, action string) string {
	return itemPath(SubTenantPath(tenantID, "invitations"), invitationID, action)
}

// SubTenantMemberPath is an action on a member of a sub-tenant.
func SubTenantMemberPath(tenantID, membershipID int64, action string) string {
	return itemPath(SubTenantPath(tenantID, "users"), membershipID, action)
}

// TemplatePath is a template's page, or an action on it: TemplatePath(7) is
// "/templates/7", TemplatePath(7, "edit") is "/templates/7/edit".
func TemplatePath(id int64, action ...string) string { return itemPath(TemplatesPath, id, action...) }

// NewOrderFromPath is the Create order form with a template chosen.
func NewOrderFromPath(templateID int64) string {
	return NewOrderPath + "?template=" + strconv.FormatInt(templateID, 10)
}

// OrderPath is an order's page, or an action on it: OrderPath(7) is
// "/orders/7", OrderPath(7, "status") is "/orders/7/status".
func OrderPath(id int64, action ...string) string { return itemPath(OrdersPath, id, action...) }

// TestOrdersPath is the Orders list showing test data.
const TestOrdersPath = OrdersPath + "?env=test"

// DevicePath is an action on a device of the list at base, which is
// DevicesPath or a sub-tenant's devices tab.
func DevicePath(base string, id int64, action string) string {
	return itemPath(base, id, action)
}

// SSOSettingsDomainPath is a company's action on a domain its connection
// claims: SSOSettingsDomainPath(7, "verify") checks its DNS record.
func SSOSettingsDomainPath(id int64, action string) string {
	return itemPath(SSOSettingsPath+"/domains", id, action)
}

// SSODomainPath is platform staff's decision on a domain waiting for them:
// SSODomainPath(7, "approve"), SSODomainPath(7, "refuse").
func SSODomainPath(id int64, action string) string { return itemPath(SSODomainsPath, id, action) }

func itemPath(base string, id int64, below ...string) string {
	return strings.Join(append([]string{base, strconv.FormatInt(id, 10)}, below...), "/")
}

// Billing: a company's Settings → Billing and its statements, and platform
// staff's list of the companies that pay, with each one's statements.
const (
	BillingPath      = "/settings/billing"
	StaffBillingPath = "/billing"
	// StaffBillingRefreshPath recomputes the staff list's figures.
	StaffBillingRefreshPath = StaffBillingPath + "/refresh"
)

// BillingStatementPath is a month's statement on Settings → Billing, or
// its CSV: BillingStatementPath("2026-11", "csv").
func BillingStatementPath(month string, below ...string) string {
	return strings.Join(append([]string{BillingPath, "statements", month}, below...), "/")
}

// StaffBillingCompanyPath is a company's billing as platform staff see
// it, or below it: StaffBillingCompanyPath(7, "statements", "2026-11").
func StaffBillingCompanyPath(id int64, below ...string) string {
	return itemPath(StaffBillingPath+"/companies", id, below...)
}

// A person's own account: the same on every host, so each company's
// address can show them without a hand-off.
const (
	AccountProfilePath   = "/account/profile"
	AccountPasswordPath  = "/account/password"
	AccountTwoFactorPath = "/account/two-factor"
	AccountPasskeysPath  = "/account/passkeys"
	AccountSessionsPath  = "/account/sessions"
	AccountActivityPath  = "/account/activity"
	// AccountConfirmPath asks for the password again before a change to
	// how the account signs in.
	AccountConfirmPath = "/account/confirm"
)

// Two-factor sign-in: setting up an authenticator app, new recovery codes,
// and the sign-in's second step (on the base domain).
const (
	AccountTwoFactorSetupPath = AccountTwoFactorPath + "/setup"
	AccountRecoveryCodesPath  = AccountTwoFactorPath + "/recovery-codes"
	LoginTwoFactorPath        = "/login/two-factor"
)
