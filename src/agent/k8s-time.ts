// Kubernetes timestamps (metav1.Time): RFC 3339 in UTC with whole seconds, "2024-01-01T00:00:00Z".
export function k8sTime(at: Date | number = new Date()): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}
