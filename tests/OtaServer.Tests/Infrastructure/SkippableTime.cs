namespace OtaServer.Tests.Infrastructure;

/// <summary>
/// The system clock, plus an offset a test moves forward with <see cref="Advance"/>: wall time and timestamps jump,
/// while timers and delays keep running in real time (so the rest of the server behaves as usual).
/// </summary>
public sealed class SkippableTime : TimeProvider
{
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public override long GetTimestamp() =>
        System.GetTimestamp() + (long)(Interlocked.Read(ref _offsetTicks) / (double)TimeSpan.TicksPerSecond * TimestampFrequency);
}
