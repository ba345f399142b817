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
    private readonly Process _process;
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

    public static async Task<MosquittoBroker> StartAsync()
    {
        var binary = FindBinary();
        var port = FreePort.Next();
        var directory = Path.Combine(Path.GetTempPath(), "anomaly-actors-mosquitto-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
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
            persistence false
            log_dest stdout
            log_type error
            log_type warning
            """);
        var process = new Process
        {
            StartInfo = new ProcessStartInfo(binary, $"-c {config}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            },
        };
        var broker = new MosquittoBroker(process, directory, port);
        process.OutputDataReceived += (_, e) => broker.Append(e.Data);
        process.ErrorDataReceived += (_, e) => broker.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
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
