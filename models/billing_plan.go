package models

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// BillingPlan is a price list platform staff set: a monthly base fee and
// unit prices with included quantities. Its prices never change once it
// exists (the database refuses it): companies were billed by them, and a
// new price is a new plan.
type BillingPlan struct {
	ID          int64
	Name        string
	Description string
	Currency    string
	BaseFee     int64 // per month, prorated over the days a company existed
	OrderPrice  int64 // per completed order, or a standard template's when PremiumOrderPrice is set
	// PremiumOrderPrice prices a premium template's orders; nil prices
	// every order at OrderPrice (flat).
	PremiumOrderPrice    *int64
	IncludedOrders       int64
	DeviceMonthPrice     int64 // per device active for a whole month
	IncludedDeviceMonths int64
	SeatPrice            int64 // per member for a whole month
	IncludedSeats        int64
	IsDefault            bool
	ArchivedAt           *time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// Archived tells whether the plan is offered no more.
func (p *BillingPlan) Archived() bool { return p.ArchivedAt != nil }

// ByCategory tells whether orders are priced by template category.
func (p *BillingPlan) ByCategory() bool { return p.PremiumOrderPrice != nil }

// OrderPriceOf is the price of one order of a template of category c.
func (p *BillingPlan) OrderPriceOf(c TemplateCategory) int64 {
	if c == CategoryPremium && p.PremiumOrderPrice != nil {
		return *p.PremiumOrderPrice
	}
	return p.OrderPrice
}

// target is the plan as an audit event names it.
func (p *BillingPlan) target() AuditTarget {
	return AuditTarget{Type: "billing_plan", ID: p.ID, Label: p.Name}
}

// Currencies are those a plan may be in, with their symbols.
var Currencies = []string{"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY"}

// currencyDigits is how many minor digits a currency has, when not 2.
var currencyDigits = map[string]int{"JPY": 0}

// CurrencyDigits is how many digits follow the point in currency's amounts.
func CurrencyDigits(currency string) int {
	if d, ok := currencyDigits[currency]; ok {
		return d
	}
	return 2
}

var currencySymbols = map[string]string{"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}

// FormatMoney writes an amount of minor units as people read it:
// FormatMoney(123456, "USD") is "$1,234.56"; a currency without a symbol
// is named, "CHF 12.00".
func FormatMoney(amount int64, currency string) string {
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	digits := CurrencyDigits(currency)
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	whole := groupThousands(amount / unit)
	if digits > 0 {
		whole += fmt.Sprintf(".%0*d", digits, amount%unit)
	}
	if sym, ok := currencySymbols[currency]; ok {
		return sign + sym + whole
	}
	return sign + currency + " " + whole
}

// FormatAmount writes minor units as a plain decimal for a form or CSV
// field: 123456 in USD is "1234.56".
func FormatAmount(amount int64, currency string) string {
	digits := CurrencyDigits(currency)
	if digits == 0 {
		return fmt.Sprint(amount)
	}
	unit := int64(1)
	for range digits {
		unit *= 10
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	return fmt.Sprintf("%s%d.%0*d", sign, amount/unit, digits, amount%unit)
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

var amountPattern = regexp.MustCompile(`^([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]*))?$`)

// ParseAmount reads a non-negative decimal amount ("12", "12.5",
// "1,234.56") in currency's minor units, without floating point. More
// decimals than the currency has are refused, as are signs, currency
// symbols (the plan's currency is chosen apart: "$5" in a euro plan would
// be a mistake) and letters.
func ParseAmount(s, currency string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("enter zero or more")
	}
	m := amountPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("write an amount like 12.50, without a currency sign")
	}
	whole, frac := strings.ReplaceAll(m[1], ",", ""), m[2]
	digits := CurrencyDigits(currency)
	if len(frac) > digits {
		if digits == 0 {
			return 0, fmt.Errorf("%s has no cents", currency)
		}
		return 0, fmt.Errorf("use at most %d decimals", digits)
	}
	frac += strings.Repeat("0", digits-len(frac))
	if len(whole) > 12 {
		return 0, fmt.Errorf("that amount is too large")
	}
	var n int64
	for _, r := range whole + frac {
		n = n*10 + int64(r-'0')
	}
	return n, nil
}

// The largest amount (in minor units) and included quantity a plan may
// have: with a month's usage of a large company, their products stay far
// inside 64 bits.
const (
	MaxPlanAmount       = 100_000_000_000 // a billion dollars, in cents
	MaxIncludedQuantity = 1_000_000_000
)

// NewBillingPlan is a plan to create.
type NewBillingPlan struct {
	Name                 string
	Description          string
	Currency             string
	BaseFee              int64
	OrderPrice           int64
	PremiumOrderPrice    *int64
	IncludedOrders       int64
	DeviceMonthPrice     int64
	IncludedDeviceMonths int64
	SeatPrice            int64
	IncludedSeats        int64
	IsDefault            bool
}

func (n *NewBillingPlan) validate() FieldErrors {
	errs := FieldErrors{}
	var ok bool
	if n.Name, ok = cleanLine(n.Name); !ok {
		errs["name"] = controlCharacterMessage
	} else if l := len([]rune(n.Name)); l < 2 || l > 60 {
		errs["name"] = "Give the plan a name of 2 to 60 characters."
	}
	if n.Description, ok = cleanText(n.Description); !ok {
		errs["description"] = controlCharacterMessage
	} else if len([]rune(n.Description)) > 300 {
		errs["description"] = "Keep the description to 300 characters."
	}
	if !knownCurrency(n.Currency) {
		errs["currency"] = "Choose a currency from the list."
	}
	amounts := map[string]int64{"base_fee": n.BaseFee, "order_price": n.OrderPrice,
		"device_month_price": n.DeviceMonthPrice, "seat_price": n.SeatPrice}
	if n.PremiumOrderPrice != nil {
		amounts["premium_order_price"] = *n.PremiumOrderPrice
	}
	for field, v := range amounts {
		switch {
		case v < 0:
			errs[field] = "Enter zero or more."
		case v > MaxPlanAmount:
			errs[field] = "That amount is too large for a plan."
		}
	}
	for field, v := range map[string]int64{"included_orders": n.IncludedOrders,
		"included_device_months": n.IncludedDeviceMonths, "included_seats": n.IncludedSeats} {
		switch {
		case v < 0:
			errs[field] = "Enter zero or more."
		case v > MaxIncludedQuantity:
			errs[field] = "Include at most 1,000,000,000."
		}
	}
	return errs
}

func knownCurrency(c string) bool {
	for _, k := range Currencies {
		if k == c {
			return true
		}
	}
	return false
}

// BillingPlans lists the plans by name, the archived ones too when asked.
func (s *Store) BillingPlans(ctx context.Context, withArchived bool) ([]BillingPlan, error) {
	var out []BillingPlan
	q := s.conn(ctx).Order("lower(name)")
	if !withArchived {
		q = q.Where("archived_at IS NULL")
	}
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list billing plans: %w", err)
	}
	return out, nil
}

// BillingPlanByID is one plan.
func (s *Store) BillingPlanByID(ctx context.Context, id int64) (*BillingPlan, error) {
	var p BillingPlan
	err := s.conn(ctx).Where("id = ?", id).Take(&p).Error
	return &p, notFound(err, "load billing plan")
}

// BillingPlansByID are the plans with these ids, by id.
func (s *Store) BillingPlansByID(ctx context.Context, ids []int64) (map[int64]*BillingPlan, error) {
	out := map[int64]*BillingPlan{}
	if len(ids) == 0 {
		return out, nil
	}
	var plans []BillingPlan
	if err := s.conn(ctx).Where("id IN ?", ids).Find(&plans).Error; err != nil {
		return nil, fmt.Errorf("load billing plans: %w", err)
	}
	for i := range plans {
		out[plans[i].ID] = &plans[i]
	}
	return out, nil
}

// DefaultBillingPlan is the plan a company made under the platform starts
// on unless staff choose another.
func (s *Store) DefaultBillingPlan(ctx context.Context) (*BillingPlan, error) {
	var p BillingPlan
	err := s.conn(ctx).Where("is_default").Take(&p).Error
	return &p, notFound(err, "load default billing plan")
}

// CreateBillingPlan adds a plan, as platform staff (platformID, where the
// audit event goes). A taken name is refused beside the name field.
func (s *Store) CreateBillingPlan(ctx context.Context, platformID int64, n NewBillingPlan) (*BillingPlan, error) {
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	p := &BillingPlan{Name: n.Name, Description: n.Description, Currency: n.Currency, BaseFee: n.BaseFee,
		OrderPrice: n.OrderPrice, PremiumOrderPrice: n.PremiumOrderPrice, IncludedOrders: n.IncludedOrders,
		DeviceMonthPrice: n.DeviceMonthPrice, IncludedDeviceMonths: n.IncludedDeviceMonths,
		SeatPrice: n.SeatPrice, IncludedSeats: n.IncludedSeats}
	err := s.Tx(ctx, func(tx *Store) error {
		if n.IsDefault {
			if err := tx.conn(ctx).Model(&BillingPlan{}).Where("is_default").Update("is_default", false).Error; err != nil {
				return fmt.Errorf("move default plan: %w", err)
			}
			p.IsDefault = true
		}
		if err := tx.conn(ctx).Create(p).Error; err != nil {
			if violatesUnique(err, "billing_plans_name_key") {
				return FieldErrors{"name": "A plan with this name exists. Choose another name."}
			}
			return fmt.Errorf("create billing plan: %w", err)
		}
		return tx.audit(ctx, platformID, AuditBillingPlanCreated, p.target(), nil, p.audited())
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdateBillingPlan renames a plan, rewrites its description, or makes it
// the default; its prices stay as they are.
func (s *Store) UpdateBillingPlan(ctx context.Context, platformID, id int64, name, description string, makeDefault bool) (*BillingPlan, error) {
	var p *BillingPlan
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if p, err = tx.BillingPlanByID(ctx, id); err != nil {
			return err
		}
		n := NewBillingPlan{Name: name, Description: description, Currency: p.Currency}
		if err := n.validate().Err(); err != nil {
			return err
		}
		if makeDefault && p.Archived() {
			return FieldErrors{"is_default": "An archived plan cannot be the default."}
		}
		before := map[string]any{"name": p.Name, "description": p.Description, "default": p.IsDefault}
		if makeDefault && !p.IsDefault {
			if err := tx.conn(ctx).Model(&BillingPlan{}).Where("is_default").Update("is_default", false).Error; err != nil {
				return fmt.Errorf("move default plan: %w", err)
			}
		}
		changes := map[string]any{"name": n.Name, "description": n.Description, "updated_at": tx.db.NowFunc()}
		if makeDefault {
			changes["is_default"] = true
		}
		if err := tx.conn(ctx).Model(&BillingPlan{}).Where("id = ?", id).Updates(changes).Error; err != nil {
			if violatesUnique(err, "billing_plans_name_key") {
				return FieldErrors{"name": "A plan with this name exists. Choose another name."}
			}
			return fmt.Errorf("update billing plan: %w", err)
		}
		p.Name, p.Description, p.IsDefault = n.Name, n.Description, p.IsDefault || makeDefault
		return tx.audit(ctx, platformID, AuditBillingPlanUpdated, p.target(), before,
			map[string]any{"name": p.Name, "description": p.Description, "default": p.IsDefault})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ArchiveBillingPlan stops offering a plan to new companies; those on it
// stay until staff move them. The default plan cannot be archived.
func (s *Store) ArchiveBillingPlan(ctx context.Context, platformID, id int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		p, err := tx.BillingPlanByID(ctx, id)
		if err != nil {
			return err
		}
		if p.IsDefault {
			return ErrDefaultPlan
		}
		if p.Archived() {
			return nil
		}
		if err := tx.conn(ctx).Model(&BillingPlan{}).Where("id = ?", id).
			Updates(map[string]any{"archived_at": tx.db.NowFunc(), "updated_at": tx.db.NowFunc()}).Error; err != nil {
			return fmt.Errorf("archive billing plan: %w", err)
		}
		return tx.audit(ctx, platformID, AuditBillingPlanArchived, p.target(), nil, nil)
	})
}

// audited is what the audit log shows of a new plan.
func (p *BillingPlan) audited() map[string]any {
	m := map[string]any{"name": p.Name, "currency": p.Currency, "base_fee": p.BaseFee, "order_price": p.OrderPrice,
		"included_orders": p.IncludedOrders, "device_month_price": p.DeviceMonthPrice,
		"included_device_months": p.IncludedDeviceMonths, "seat_price": p.SeatPrice, "included_seats": p.IncludedSeats}
	if p.PremiumOrderPrice != nil {
		m["premium_order_price"] = *p.PremiumOrderPrice
	}
	return m
}
