package main

import (
	"math"
	"sort"
	"time"
)

// Stats summarizes a set of latencies, in milliseconds.
type Stats struct {
	Count    int     `json:"count"`
	Failures int     `json:"failures"`
	Min      float64 `json:"min_ms"`
	Max      float64 `json:"max_ms"`
	Mean     float64 `json:"mean_ms"`
	Stddev   float64 `json:"stddev_ms"`
	Median   float64 `json:"median_ms"`
	P75      float64 `json:"p75_ms"`
	P95      float64 `json:"p95_ms"`
	P99      float64 `json:"p99_ms"`
	P999     float64 `json:"p99_9_ms"`
}

// summarize computes Stats of ds (successful samples) plus a failure count.
// Percentiles interpolate linearly between the closest ranks.
func summarize(ds []time.Duration, failures int) Stats {
	s := Stats{Count: len(ds), Failures: failures}
	if len(ds) == 0 {
		return s // all zero: Count 0 says there is nothing to show
	}
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	sort.Float64s(ms)
	var sum float64
	for _, v := range ms {
		sum += v
	}
	s.Mean = sum / float64(len(ms))
	if len(ms) > 1 {
		var sq float64
		for _, v := range ms {
			sq += (v - s.Mean) * (v - s.Mean)
		}
		s.Stddev = math.Sqrt(sq / float64(len(ms)-1))
	}
	s.Min, s.Max = ms[0], ms[len(ms)-1]
	s.Median = percentile(ms, 50)
	s.P75 = percentile(ms, 75)
	s.P95 = percentile(ms, 95)
	s.P99 = percentile(ms, 99)
	s.P999 = percentile(ms, 99.9)
	return s
}

// percentile of sorted values, p in [0,100].
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	frac := rank - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}

// medianInt is the median of integer samples (mean of the two middle ones
// for an even count); 0 when empty.
func medianInt(v []int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]int(nil), v...)
	sort.Ints(s)
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}
