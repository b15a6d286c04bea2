using System.ComponentModel.DataAnnotations;

namespace OtaServer.Devices;

/// <summary>The <c>OtaServer:Devices</c> section.</summary>
public sealed class DevicesOptions
{
    public const string SectionName = "OtaServer:Devices";

    /// <summary>
    /// A check-in that changes nothing (same hardware id, tag and commit) updates last-seen in the store at
    /// most this often (queued, see <see cref="LastSeenFlushInterval"/>). Changes are written at once.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan LastSeenWriteInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Last-seen-only updates are queued and written together, one transaction this often.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan LastSeenFlushInterval { get; set; } = TimeSpan.FromSeconds(1);
}
