"""Timing helpers shared by the benchmark scripts."""
import time


def best(function, count):
    """The shortest of `count` timed calls of `function`, and its last result."""
    times, value = [], None
    for _ in range(count):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return min(times), value
