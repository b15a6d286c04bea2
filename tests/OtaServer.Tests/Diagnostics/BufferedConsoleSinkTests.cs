using System.Text;
using OtaServer.Diagnostics;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace OtaServer.Tests.Diagnostics;

public sealed class BufferedConsoleSinkTests
{
    private static readonly MessageTemplateTextFormatter Formatter = new("{Level:u3} {Message:lj}{NewLine}");

    private static LogEvent Event(int n, LogEventLevel level = LogEventLevel.Information) =>
        new(DateTimeOffset.Now, level, null, new MessageTemplateParser().Parse("line {N}"),
            [new LogEventProperty("N", new ScalarValue(n))]);

    [Fact]
    public void EveryEvent_IsWrittenInOrder_ByDispose()
    {
        var output = new MemoryStream();
        var sink = new BufferedConsoleSink(Formatter, output, TimeSpan.FromHours(1));
        for (var i = 0; i < 1000; i++)
            sink.Emit(Event(i));
        sink.Dispose();
        var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"INF line {i}"), lines);
    }

    private enum Release { AllPartsReceived }

    [Fact]
    public void DefaultTemplate_RendersStringsAndEnumsAsPlainText_LikeTheConsoleSink()
    {
        var output = new MemoryStream();
        var sink = new BufferedConsoleSink(new MessageTemplateTextFormatter(BufferedConsoleSink.DefaultOutputTemplate), output, TimeSpan.FromHours(1));
        sink.Emit(new LogEvent(new DateTimeOffset(2026, 11, 26, 15, 48, 20, TimeSpan.Zero).ToLocalTime(), LogEventLevel.Information, null,
            new MessageTemplateParser().Parse("GET {Path} held until {Release}, {Count} parts"),
            [
                new LogEventProperty("Path", new ScalarValue("/repos/main/config")),
                new LogEventProperty("Release", new ScalarValue(Release.AllPartsReceived)),
                new LogEventProperty("Count", new ScalarValue(2)),
            ]));
        sink.Dispose();
        Assert.EndsWith(" INF] GET /repos/main/config held until AllPartsReceived, 2 parts\n", Encoding.UTF8.GetString(output.ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_AreWrittenWithinTheFlushInterval_WithoutDispose()
    {
        var output = new SignallingStream();
        using var sink = new BufferedConsoleSink(Formatter, output, TimeSpan.FromMilliseconds(20));
        sink.Emit(Event(1));
        sink.Emit(Event(2));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!output.Text.Contains("INF line 2\n", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal("INF line 1\nINF line 2\n", output.Text);
        Assert.Equal(1, output.Writes); // one batch, one write
    }

    [Fact]
    public void WhenTheOutputStalls_EventsBeyondTheQueueLimitAreDroppedAndCounted()
    {
        var output = new SignallingStream { Blocked = true };
        var sink = new BufferedConsoleSink(Formatter, output, TimeSpan.FromHours(1), queueLimit: 10);
        sink.Emit(Event(0, LogEventLevel.Error)); // errors are flushed at once: the writer now waits in Write
        Assert.True(output.Entered.Wait(TimeSpan.FromSeconds(10)));
        for (var i = 1; i <= 25; i++)
            sink.Emit(Event(i));
        output.Release();
        sink.Dispose();
        var text = output.Text;
        Assert.StartsWith("ERR line 0\n", text, StringComparison.Ordinal);
        Assert.Contains("15 log events were dropped", text, StringComparison.Ordinal);
        Assert.Equal(10, text.Split('\n').Count(l => l.StartsWith("INF line ", StringComparison.Ordinal)));
        Assert.Contains("INF line 10\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("INF line 11\n", text, StringComparison.Ordinal);
    }

    /// <summary>Records what is written; can hold the first write until released.</summary>
    private sealed class SignallingStream : Stream
    {
        private readonly MemoryStream _written = new();
        private readonly ManualResetEventSlim _release = new(false);
        private readonly Lock _lock = new();

        public bool Blocked { get; init; }
        public ManualResetEventSlim Entered { get; } = new(false);
        public int Writes { get; private set; }

        public string Text
        {
            get { lock (_lock) return Encoding.UTF8.GetString(_written.ToArray()); }
        }

        public void Release() => _release.Set();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Entered.Set();
            if (Blocked)
                _release.Wait();
            lock (_lock)
            {
                Writes++;
                _written.Write(buffer);
            }
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
