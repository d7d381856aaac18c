"""The ground floor: what every other package may import (errors, secrets redaction, the
stopwatch and progress switch, the runtime, atomic writes). It imports nothing of the
package above it."""
