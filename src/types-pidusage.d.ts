// pidusage ships no type declarations; this covers the calls corral makes.
declare module 'pidusage' {
  interface Stat {
    cpu: number;
    memory: number;
    ppid: number;
    pid: number;
    ctime: number;
    elapsed: number;
    timestamp: number;
  }
  function pidusage(pid: number | string): Promise<Stat>;
  namespace pidusage {
    function clear(): void;
  }
  export default pidusage;
}
