using System.Net;

namespace AnomalyActors.Core.Configuration;

/// <summary>Whether a configured listen address keeps a listener on this machine.</summary>
public static class Listeners
{
    /// <summary>True for loopback addresses (127.0.0.0/8, ::1) and the name localhost.</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    /// <summary>The warning a listener beyond loopback without TLS deserves, or null when it is on loopback.</summary>
    public static string? ClearTextWarning(string what, string host, int port, string advice) =>
        IsLoopback(host)
            ? null
            : $"{what} listens on {host}:{port}, beyond this machine, without TLS: anyone on the network can read and inject its traffic. {advice}";
}
