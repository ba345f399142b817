using System.Diagnostics;
using System.Text;

namespace AnomalyActors.Testing;

/// <summary>
/// Debian's mosquitto on a free loopback port, configured not to drop messages (its default queue
/// limit of 1,000 would), and killed on dispose. A missing binary is an error, not a skip: a test
/// that quietly skips its external broker proves nothing (CI installs it with apt-get).
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    private Process _process;
    private readonly string _directory;
    private readonly StringBuilder _output = new();

    private MosquittoBroker(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }
    public string Host => "127.0.0.1";

    public static string FindBinary()
    {
        foreach (var candidate in new[] { "/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("mosquitto is not installed (apt-get install mosquitto; .ci/install-test-deps.sh does it).");
    }

    /// <param name="persistence">Keep sessions and queued messages across a graceful restart (saved on SIGTERM).</param>
    public static async Task<MosquittoBroker> StartAsync(bool persistence = false)
    {
        var port = FreePort.Next();
        var directory = Path.Combine(Path.GetTempPath(), "anomaly-actors-mosquitto-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            // Started as root, mosquitto drops to its own user, which must be able to save its state here.
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_111_111);
        }

        var config = Path.Combine(directory, "mosquitto.conf");
        await File.WriteAllTextAsync(config, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            # 0 = no limit: the defaults (1,000 queued, 20 in flight) drop or throttle a subscriber that
            # acknowledges per durable batch.
            max_queued_messages 0
            max_queued_bytes 0
            max_inflight_messages 0
            set_tcp_nodelay true
            persistence {(persistence ? "true" : "false")}
            persistence_location {directory}/
            log_dest stdout
            log_type error
            log_type warning
            """);
        var broker = new MosquittoBroker(StartProcess(config), directory, port);
        broker.Attach();
        try
        {
            await FreePort.WaitUntilListeningAsync(port, TimeSpan.FromSeconds(15), () => $"mosquitto output: {broker.Output}");
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }

        return broker;
    }

    /// <summary>Stops the broker gracefully (SIGTERM: a persistent one saves its state), waits, and starts it again on the same port.</summary>
    public async Task RestartAsync(TimeSpan downFor)
    {
        Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        await _process.WaitForExitAsync();
        _process.Dispose();
        await Task.Delay(downFor);
        _process = StartProcess(Path.Combine(_directory, "mosquitto.conf"));
        Attach();
        await FreePort.WaitUntilListeningAsync(Port, TimeSpan.FromSeconds(15), () => $"mosquitto output: {Output}");
    }

    private static Process StartProcess(string config) => new()
    {
        StartInfo = new ProcessStartInfo(FindBinary(), $"-c {config}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        },
    };

    private void Attach()
    {
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        finally
        {
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}
