using System.Diagnostics;

namespace AnomalyActors.Testing;

/// <summary>
/// A Linux network namespace the test makes for itself (iproute2, as root): its own loopback and
/// whatever addresses the test gives it, unreachable from any real network, so a test can bind
/// "beyond loopback" or cut links without touching the machine's interfaces. Deleted on dispose.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    /// <summary>Why namespaces cannot be made here, or null when they can (root and iproute2).</summary>
    public static string? Unavailable { get; } = Probe();

    public static NetworkNamespace Create(string prefix = "aa")
    {
        if (Unavailable is { } why)
        {
            throw new InvalidOperationException(why);
        }

        return CreateUnchecked(prefix);
    }

    private static NetworkNamespace CreateUnchecked(string prefix)
    {
        var ns = new NetworkNamespace($"{prefix}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
        Ip("netns", "add", ns.Name);
        ns.Exec("ip", "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>Adds an address (e.g. 10.200.0.1/24) to the namespace's loopback device.</summary>
    public void AddAddress(string cidr) => Exec("ip", "addr", "add", cidr, "dev", "lo");

    /// <summary>Runs a command inside the namespace to its end; returns its standard output.</summary>
    public string Exec(params string[] command)
    {
        var info = StartInfo(command);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{string.Join(' ', command)}' in {Name} failed: {error}");
        }

        return output;
    }

    /// <summary>How to start <paramref name="command"/> inside the namespace (the caller redirects and starts it).</summary>
    public ProcessStartInfo StartInfo(params string[] command)
    {
        var info = new ProcessStartInfo(IpBinary) { UseShellExecute = false };
        foreach (var argument in (string[])["netns", "exec", Name, .. command])
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    public void Dispose()
    {
        try
        {
            Ip("netns", "del", Name);
        }
        catch (InvalidOperationException)
        {
            // Already gone; nothing else depends on it.
        }
    }

    private static string IpBinary => new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" }.FirstOrDefault(File.Exists) ?? "ip";

    private static void Ip(params string[] arguments)
    {
        var info = new ProcessStartInfo(IpBinary) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed: {error}");
        }
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        if (Environment.UserName != "root" && Environment.GetEnvironmentVariable("USER") != "root")
        {
            return "making network namespaces needs root (CI runs as root)";
        }

        if (!new[] { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" }.Any(File.Exists))
        {
            return "iproute2's ip is not installed (apt-get install iproute2; .ci/install-test-deps.sh does it)";
        }

        try
        {
            using var probe = CreateUnchecked("probe");
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return "ip netns add failed here: " + e.Message;
        }
    }
}
