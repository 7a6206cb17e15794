package components

import (
	"strconv"
	"strings"

	"canopy/models"
)

// The usage chart (UsageChart) is three small bar charts side by side, one
// per meter, over the same months: orders are whole numbers while
// device-months and average seats are fractions with other scales, so one
// shared axis would flatten two of them. Its geometry is computed here in
// integers, in the units of the SVG's viewBox, and the stylesheet colours
// it through custom properties.

// The chart's viewBox and plot area.
const (
	chartWidth    = 360
	chartHeight   = 164
	chartLeft     = 40 // room for the axis labels
	chartTop      = 18
	chartPlot     = 112 // the plot's height: the tallest bar
	chartSlot     = 26  // the width each month has
	chartBarWidth = 16
)

// chartBaseline is where bars stand.
const chartBaseline = chartTop + chartPlot

// UsageSeries is one meter of the chart: its values per month, in
// hundredths when fractional.
type UsageSeries struct {
	Key        string // names its colour in app.css: orders, devices, seats
	Title      string // "Completed orders"
	Unit       string // for sentences: "orders"
	Hundredths bool
	Months     []models.BillingChartMonth
	Values     []int64
}

// UsageSeriesOf splits the chart's months into its three meters.
func UsageSeriesOf(months []models.BillingChartMonth) []UsageSeries {
	series := []UsageSeries{
		{Key: "orders", Title: "Completed orders", Unit: "orders"},
		{Key: "devices", Title: "Device-months", Unit: "device-months", Hundredths: true},
		{Key: "seats", Title: "Seats (average)", Unit: "seats on average", Hundredths: true},
	}
	for i := range series {
		series[i].Months = months
		for _, m := range months {
			series[i].Values = append(series[i].Values, [...]int64{m.Orders, m.DeviceMonths, m.SeatsAverage}[i])
		}
	}
	return series
}

// Figure writes one value as people read it: 12, or 3.5 for 350 hundredths.
func (s UsageSeries) Figure(v int64) string {
	if !s.Hundredths {
		return Number(v)
	}
	return trimZeros(models.FormatHundredths(v))
}

// trimZeros drops a fraction's trailing zeros: "3.50" → "3.5", "2.00" → "2".
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// scale is the top of the axis: the smallest round figure (1, 1.2, 1.5,
// 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten, in the series' unit) not
// below the largest value, so the tallest bar fills most of the chart.
func (s UsageSeries) scale() int64 {
	var top int64
	for _, v := range s.Values {
		top = max(top, v)
	}
	step := int64(1)
	if s.Hundredths && top >= 100 {
		step = 100 // whole units; below one, hundredths
	}
	for ; ; step *= 10 {
		for _, c := range []int64{10, 12, 15, 20, 25, 30, 40, 50, 60, 80} {
			if (c*step)%10 == 0 && c*step/10 >= top {
				return c * step / 10
			}
		}
	}
}

// middle is the axis' middle line, when it falls on a figure the series
// can have (half of 15 orders is not one); 0 for none.
func (s UsageSeries) middle() int64 {
	top := s.scale()
	if top%2 != 0 {
		return 0
	}
	return top / 2
}

// MiddleY is where the middle line is drawn; "" for none.
func (s UsageSeries) MiddleY() string {
	if s.middle() == 0 {
		return ""
	}
	return itoa(chartBaseline - s.middle()*chartPlot/s.scale())
}

// MiddleLabelY is where its label stands.
func (s UsageSeries) MiddleLabelY() string {
	return itoa(chartBaseline - s.middle()*chartPlot/s.scale() + 4)
}

// AxisMiddle is the middle line's label.
func (s UsageSeries) AxisMiddle() string { return s.Figure(s.middle()) }

// ChartBar is one month's bar in viewBox units.
type ChartBar struct {
	X, Y, Width, Height string
	LabelX              string
	Label               string // the month's short name, under the bar
	Year                string // under the first month and each January, so the axis says which year
	Tip                 string // the month's figure in words
	Open                bool   // the current month, to date
}

// Bars lays out the series' bars: each month's height in proportion to
// the axis, a month that used anything at least one unit tall.
func (s UsageSeries) Bars() []ChartBar {
	top := s.scale()
	bars := make([]ChartBar, len(s.Values))
	for i, v := range s.Values {
		h := v * chartPlot / top
		if v > 0 && h == 0 {
			h = 1
		}
		x := int64(chartLeft + i*chartSlot + (chartSlot-chartBarWidth)/2)
		m := s.Months[i]
		tip := m.Month.Label() + ": " + s.Figure(v) + " " + s.Unit
		if m.Open {
			tip += ", to date"
		}
		bars[i] = ChartBar{X: itoa(x), Y: itoa(chartBaseline - h), Width: itoa(chartBarWidth), Height: itoa(h),
			LabelX: itoa(x + chartBarWidth/2), Label: m.Month.ShortLabel(), Tip: tip, Open: m.Open}
		// Under each January, and under the first month unless a January
		// follows it at once.
		if strings.HasSuffix(string(m.Month), "-01") || (i == 0 && !strings.HasSuffix(string(m.Month), "-12")) {
			bars[i].Year = string(m.Month)[:4]
		}
	}
	return bars
}

// AxisTop is the label of the axis' top line.
func (s UsageSeries) AxisTop() string { return s.Figure(s.scale()) }

// Summary says in words what the bars show, for the chart's description.
func (s UsageSeries) Summary() string {
	if len(s.Values) == 0 {
		return ""
	}
	first, last := s.Months[0], s.Months[len(s.Months)-1]
	var b strings.Builder
	b.WriteString(s.Title + " per month, " + first.Month.Label() + " to " + last.Month.Label() + ". ")
	peak := 0
	for i, v := range s.Values {
		if v > s.Values[peak] {
			peak = i
		}
	}
	if s.Values[peak] == 0 {
		b.WriteString("None in any month.")
		return b.String()
	}
	b.WriteString("Highest: " + s.Figure(s.Values[peak]) + " in " + s.Months[peak].Month.Label() + ". ")
	current := s.Figure(s.Values[len(s.Values)-1])
	if last.Open {
		b.WriteString("This month to date: " + current + ".")
	} else {
		b.WriteString(last.Month.Label() + ": " + current + ".")
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The fixed coordinates of the chart's lines and labels, for the template.
var (
	chartViewBox   = "0 0 " + itoa(chartWidth) + " " + itoa(chartHeight)
	chartLeftX     = itoa(chartLeft)
	chartRightX    = itoa(chartLeft + 12*chartSlot)
	chartTopY      = itoa(chartTop)
	chartBaseY     = itoa(chartBaseline)
	chartAxisX     = itoa(chartLeft - 6)
	chartTopLabelY = itoa(chartTop + 4)
	chartBaseLabel = itoa(chartBaseline + 4)
	chartMonthY    = itoa(chartBaseline + 16)
	chartYearY     = itoa(chartBaseline + 29)
)
