package models

import "fmt"

// BillingLine is one priced line of a company's month. Quantities of the
// prorated meters (the base fee's share of the month, device-months,
// seats) are in hundredths; orders are whole.
type BillingLine struct {
	Kind       string `json:"kind"` // base, orders, orders_standard, orders_premium, devices, seats
	Label      string `json:"label"`
	Hundredths bool   `json:"hundredths"`
	Quantity   int64  `json:"quantity"`
	Included   int64  `json:"included"`
	Billable   int64  `json:"billable"`
	UnitPrice  int64  `json:"unit_price"`
	Amount     int64  `json:"amount"`
	Late       int64  `json:"late,omitempty"` // orders of a closed month counted here
	// OfDays is, for the base fee, the month's days, its Quantity the days
	// of them the company existed: "27/31 days".
	OfDays int64 `json:"of_days,omitempty"`
}

// QuantityText and the others write a line's figures as people read them.
func (l BillingLine) QuantityText() string { return l.figure(l.Quantity) }

// IncludedText is the included quantity used by the line.
func (l BillingLine) IncludedText() string {
	if l.OfDays > 0 {
		return "" // a base fee includes nothing
	}
	return l.figure(l.Included)
}

// BillableText is what is charged beyond the included quantity.
func (l BillingLine) BillableText() string { return l.figure(l.Billable) }

func (l BillingLine) figure(n int64) string {
	if l.OfDays > 0 {
		return fmt.Sprintf("%d/%d days", n, l.OfDays)
	}
	if l.Hundredths {
		return FormatHundredths(n)
	}
	return fmt.Sprint(n)
}

// PriceMonth prices a company's month by its plan: the base fee prorated
// over the days the company existed, orders beyond those included at
// their category's price (the included ones taken from the dearer
// category first), and device-months and seats (average over the month)
// beyond those included. Integer arithmetic throughout; each amount is
// rounded half up once.
func PriceMonth(u *MonthUsage, p *BillingPlan) (lines []BillingLine, subtotal int64) {
	days := int64(max(u.Days, 1))
	active := int64(u.ActiveDays)
	lines = append(lines, BillingLine{Kind: "base", Label: "Base fee", OfDays: days,
		Quantity: active, Billable: active, UnitPrice: p.BaseFee, Amount: roundDiv(p.BaseFee*active, days)})
	lines = append(lines, orderLines(u, p)...)
	lines = append(lines, proratedLine("devices", "Device-months", u.DeviceDays, p.IncludedDeviceMonths, p.DeviceMonthPrice, days))
	lines = append(lines, proratedLine("seats", "Seat-months", u.SeatDays, p.IncludedSeats, p.SeatPrice, days))
	for _, l := range lines {
		subtotal += l.Amount
	}
	return lines, subtotal
}

// orderLines prices the orders: one line when the plan is flat, one per
// category otherwise.
func orderLines(u *MonthUsage, p *BillingPlan) []BillingLine {
	if !p.ByCategory() {
		var late int64
		for _, o := range u.Orders {
			late += o.Late
		}
		n := u.OrdersTotal()
		inc := min(n, p.IncludedOrders)
		return []BillingLine{{Kind: "orders", Label: "Completed orders", Quantity: n, Included: inc, Billable: n - inc,
			UnitPrice: p.OrderPrice, Amount: (n - inc) * p.OrderPrice, Late: late}}
	}
	type category struct {
		c     TemplateCategory
		price int64
	}
	cats := []category{{CategoryPremium, p.OrderPriceOf(CategoryPremium)}, {CategoryStandard, p.OrderPriceOf(CategoryStandard)}}
	if cats[1].price > cats[0].price {
		cats[0], cats[1] = cats[1], cats[0]
	}
	left := p.IncludedOrders
	byKind := map[TemplateCategory]BillingLine{}
	for _, c := range cats {
		n, late := u.OrdersOf(c.c)
		inc := min(n, left)
		left -= inc
		byKind[c.c] = BillingLine{Kind: "orders_" + string(c.c), Label: "Completed orders, " + c.c.Label(), Quantity: n,
			Included: inc, Billable: n - inc, UnitPrice: c.price, Amount: (n - inc) * c.price, Late: late}
	}
	return []BillingLine{byKind[CategoryStandard], byKind[CategoryPremium]}
}

// proratedLine prices a meter counted in days (device-days, seat-days) per
// whole month: what is included is a number of whole months of it.
func proratedLine(kind, label string, dayUnits, includedMonths, price, days int64) BillingLine {
	includedDays := dayUnits // a plan including more months than were used
	if includedMonths < dayUnits {
		includedDays = min(includedMonths*days, dayUnits)
	}
	billableDays := dayUnits - includedDays
	return BillingLine{Kind: kind, Label: label, Hundredths: true,
		Quantity: roundDiv(dayUnits*100, days), Included: roundDiv(includedDays*100, days),
		Billable: roundDiv(billableDays*100, days), UnitPrice: price, Amount: roundDiv(billableDays*price, days)}
}
