using System.Collections.Concurrent;
using System.Text.Json;
using OtaServer.Jobs;

namespace OtaServer.Tests.Jobs;

/// <summary>Job kinds for tests: <c>test-ok</c> writes lines, <c>test-fail</c> throws, <c>test-block</c> waits for <see cref="Release"/>.</summary>
public sealed class TestJobs : IJobHandler
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _started = new();

    public string Kind { get; }

    public TestJobs(string kind) => Kind = kind;

    public ConcurrentQueue<string> Ran { get; } = new();

    private TaskCompletionSource Gate(string name) => _gates.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

    private TaskCompletionSource StartedSignal(string name) => _started.GetOrAdd(name, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

    public void Release(string name) => Gate(name).TrySetResult();

    public Task WaitStartedAsync(string name) => StartedSignal(name).Task.WaitAsync(TimeSpan.FromSeconds(60));

    public async Task RunAsync(JobContext job, CancellationToken cancellationToken)
    {
        var name = job.Payload.GetProperty("name").GetString()!;
        Ran.Enqueue(name);
        foreach (var line in job.Payload.TryGetProperty("lines", out var lines) ? lines.EnumerateArray() : default)
            job.Log.Write(line.GetString()!);
        StartedSignal(name).TrySetResult();
        switch (Kind)
        {
            case "test-fail":
                throw new InvalidOperationException("disk full (on purpose)");
            case "test-block":
                await Gate(name).Task.WaitAsync(cancellationToken);
                job.Log.Write("released " + name);
                break;
        }
    }

    public static object Payload(string name, params string[] lines) => new { name, lines };
}
