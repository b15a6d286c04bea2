using System.ComponentModel.DataAnnotations;

namespace OtaServer.Jobs;

/// <summary>The <c>OtaServer:Jobs</c> section (env form: <c>OtaServer__Jobs__Concurrency</c>).</summary>
public sealed class JobsOptions
{
    public const string SectionName = "OtaServer:Jobs";

    /// <summary>Jobs that run at the same time.</summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 1;

    /// <summary>A running job is stopped and marked Failed after this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromHours(2);

    /// <summary>How often an idle worker looks for work it was not told about (e.g. queued by another process).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Comment lines sent on an idle Server-Sent Events log stream.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);
}
