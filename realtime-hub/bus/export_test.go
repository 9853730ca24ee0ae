package bus

// LogCount is the number of orgs m keeps a replay log for.
func LogCount(m *Memory) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.logs)
}
