using System.ComponentModel.DataAnnotations;

namespace OtaServer.Devices;

/// <summary>The <c>OtaServer:Devices</c> section.</summary>
public sealed class DevicesOptions
{
    public const string SectionName = "OtaServer:Devices";

    /// <summary>
    /// A check-in that changes nothing (same hardware id, tag and commit) is written to the store at most
    /// this often; last-seen is accurate to this interval. Changes are always written at once.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan LastSeenWriteInterval { get; set; } = TimeSpan.FromSeconds(60);
}
