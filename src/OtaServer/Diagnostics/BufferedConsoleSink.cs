using System.Collections.Concurrent;
using System.Text;
using Serilog;
using Serilog.Configuration;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace OtaServer.Diagnostics;

/// <summary>
/// Writes log lines to standard output in batches: <see cref="Emit"/> only enqueues (no lock, no wake-up),
/// and one background thread renders what has queued every <c>flushInterval</c> and hands it to the kernel
/// in one <c>write()</c>. The request log emits one event per request; Serilog's Async + Console pair wakes
/// its worker and issues one <c>write()</c> per line, which cost the origin a quarter of its small-object
/// throughput (bench/serving). Errors are flushed at once. At most <c>queueLimit</c> events wait; beyond that
/// new ones are dropped and counted, and the count is written with the next batch.
/// </summary>
public sealed class BufferedConsoleSink : ILogEventSink, IDisposable
{
    /// <summary>
    /// <c>{Message:l}</c>: strings and enums as plain text, as Serilog's Console sink shows them (with <c>:lj</c>,
    /// this formatter would quote enums as JSON strings).
    /// </summary>
    public const string DefaultOutputTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:l}{NewLine}{Exception}";

    private readonly ConcurrentQueue<LogEvent> _queue = new();
    private readonly ITextFormatter _formatter;
    private readonly TextWriter _output;
    private readonly TimeSpan _flushInterval;
    private readonly int _queueLimit;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _writer;
    private volatile bool _stopping;
    private int _queued;
    private long _dropped;

    public BufferedConsoleSink(ITextFormatter formatter, Stream output, TimeSpan flushInterval, int queueLimit = 100_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(flushInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueLimit, 1);
        _formatter = formatter;
        _output = new StreamWriter(output, new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        _flushInterval = flushInterval;
        _queueLimit = queueLimit;
        _writer = new Thread(Run) { IsBackground = true, Name = "Log writer" };
        _writer.Start();
    }

    public void Emit(LogEvent logEvent)
    {
        if (Interlocked.Increment(ref _queued) > _queueLimit)
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _dropped);
            return;
        }
        _queue.Enqueue(logEvent);
        if (logEvent.Level >= LogEventLevel.Error)
            _wake.Set();
    }

    private void Run()
    {
        while (!_stopping)
        {
            _wake.WaitOne(_flushInterval);
            WriteQueued();
        }
        WriteQueued();
    }

    private void WriteQueued()
    {
        try
        {
            var dropped = Interlocked.Exchange(ref _dropped, 0);
            if (dropped > 0)
                _output.Write($"[{DateTimeOffset.Now:HH:mm:ss} WRN] {dropped} log events were dropped: the output did not keep up{Environment.NewLine}");
            var any = dropped > 0;
            while (_queue.TryDequeue(out var logEvent))
            {
                Interlocked.Decrement(ref _queued);
                _formatter.Format(logEvent, _output);
                any = true;
            }
            if (any)
                _output.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
            SelfLog.WriteLine("BufferedConsoleSink could not write: {0}", e);
        }
    }

    /// <summary>Writes everything still queued, then stops the writer thread.</summary>
    public void Dispose()
    {
        if (_stopping)
            return;
        _stopping = true;
        _wake.Set();
        _writer.Join();
        _output.Dispose();
        _wake.Dispose();
    }
}

/// <summary>Configuration: <c>"WriteTo": [{ "Name": "BufferedConsole", "Args": { "outputTemplate": "…", "flushIntervalMs": 50 } }]</c>.</summary>
public static class BufferedConsoleSinkExtensions
{
    public static LoggerConfiguration BufferedConsole(this LoggerSinkConfiguration sinkConfiguration,
        string outputTemplate = BufferedConsoleSink.DefaultOutputTemplate, int flushIntervalMs = 50, int queueLimit = 100_000,
        LogEventLevel restrictedToMinimumLevel = LevelAlias.Minimum, IFormatProvider? formatProvider = null) =>
        sinkConfiguration.Sink(new BufferedConsoleSink(new MessageTemplateTextFormatter(outputTemplate, formatProvider),
            Console.OpenStandardOutput(), TimeSpan.FromMilliseconds(flushIntervalMs), queueLimit), restrictedToMinimumLevel);
}
